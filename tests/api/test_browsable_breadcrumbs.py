"""The browsable API's trail above each page: only the API's own resources, each a page that answers."""

import html
import re

from django.test import Client

BREADCRUMB = re.compile(r'<li(?: class="active")?><a href="([^"]*)">([^<]*)</a></li>')


def _trail(client, url):
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/html")
    trail = response.content.decode().split('<ul class="breadcrumb">', 1)[1].split("</ul>", 1)[0]
    return [(html.unescape(name), html.unescape(link)) for link, name in BREADCRUMB.findall(trail)]


def test_a_list_page_is_under_the_api_root_and_nothing_else(world):
    client = Client()
    client.force_login(world.users["pdm_a"])

    trail = _trail(client, "/api/v1/partners/")

    assert trail == [("Portal Api Root", "/api/v1/"), ("Partner List", "/api/v1/partners/")]
    for _, link in trail:
        assert client.get(link, HTTP_ACCEPT="text/html").status_code == 200, link


def test_a_record_page_is_under_its_list_and_the_api_root(world):
    client = Client()
    client.force_login(world.users["pdm_a"])

    trail = _trail(client, f"/api/v1/staff-members/{world.staff_member_a.pk}/")

    assert trail == [
        ("Portal Api Root", "/api/v1/"),
        ("Staff Member List", "/api/v1/staff-members/"),
        ("Staff Member Instance", f"/api/v1/staff-members/{world.staff_member_a.pk}/"),
    ]
