"""What the API root page and the interactive docs tell a reader about the guide: where it is, said so
that someone reading the page in a browser can find it, and the addresses they can open."""

import html

import yaml
from django.test import Client

from tests.api.conftest import api_client

GUIDE = "docs/api.md in the APN Portal's source repository"


def test_the_api_root_page_names_the_guide_by_its_place_in_the_source_and_links_the_docs(world):
    client = Client()
    client.force_login(world.users["pdm_a"])

    response = client.get("/api/v1/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert GUIDE in page
    assert "/api/v1/docs/" in page
    assert "the guide in docs/api.md" not in page


def test_the_interactive_docs_name_the_guide_by_its_place_in_the_source(world):
    description = yaml.safe_load(api_client().get("/api/v1/schema/").content)["info"]["description"]

    assert GUIDE in description
    assert "Guide: docs/api.md." not in description
