"""A case's replies through the API (`/support-cases/{id}/replies/`) are a cursor list like the API's other
growing lists: a long-running case's thousands of replies come page by page, oldest first, each reply once,
at a constant number of queries; another organisation's case is still a 404, and a reply still answers 201
with the one reply."""

import datetime

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from support import services
from support.choices import ReplySide
from support.models import CaseReply
from tests.api.conftest import api_client
from tests.factories import SupportSubscriptionFactory

from .test_api import open_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(alpha):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    return open_case(alpha.staff, alpha.account, subject="Checkout down")


def add_replies(case, author, n, start=0):
    return CaseReply.objects.bulk_create(
        CaseReply(case=case, author=author, side=ReplySide.REQUESTER, body=f"Reply {start + i}")
        for i in range(n)
    )


def walk(client, url):
    bodies, pages = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        pages.append(page)
        bodies.extend(reply["body"] for reply in page["results"])
        url = page["next"]
    return bodies, pages


def test_a_long_conversation_comes_page_by_page_oldest_first_each_reply_once(alpha, case):
    add_replies(case, alpha.staff, 130)
    # Written first though stored last (an import, a clock): the oldest reply comes first all the same.
    late = add_replies(case, alpha.staff, 1, start=130)[0]
    earliest = CaseReply.objects.filter(case=case).order_by("created_at").first().created_at
    CaseReply.objects.filter(pk=late.pk).update(created_at=earliest - datetime.timedelta(minutes=1))
    client = api_client(alpha.staff)
    url = f"/api/v1/support-cases/{case.pk}/replies/"

    first = client.get(url)

    assert first.status_code == 200, first.content
    page = first.json()
    assert len(page["results"]) == 100 and page["next"]
    assert "count" not in page  # a cursor list: no COUNT(*) of thousands of replies
    assert page["results"][0]["body"] == "Reply 130"
    bodies, pages = walk(client, url)
    assert bodies == ["Reply 130"] + [f"Reply {i}" for i in range(130)]
    assert len(pages) == 2 and pages[-1]["next"] is None


def test_a_reply_added_during_a_walk_comes_at_its_end(alpha, case, engineer):
    add_replies(case, alpha.staff, 5)
    client = api_client(alpha.staff)
    first = client.get(f"/api/v1/support-cases/{case.pk}/replies/", {"page_size": 2}).json()
    assert [reply["body"] for reply in first["results"]] == ["Reply 0", "Reply 1"]

    services.support_case_reply(user=engineer, case=case, body="Failing over now.")

    rest, _ = walk(client, first["next"])
    assert rest == ["Reply 2", "Reply 3", "Reply 4", "Failing over now."]


@pytest.mark.parametrize(
    "params, named",
    [
        ({"page": "2"}, "page"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "many"}, "page_size"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": ""}, "cursor"),
        ({"ordering": "body"}, "ordering"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"updated_since": ""}, "updated_since"),
    ],
)
def test_a_bad_page_parameter_is_a_400_naming_it(alpha, case, params, named):
    add_replies(case, alpha.staff, 3)

    response = api_client(alpha.staff).get(f"/api/v1/support-cases/{case.pk}/replies/", params)

    assert response.status_code == 400, response.content
    assert list(response.json()) == [named]


def test_the_replies_cost_the_same_queries_for_3_as_for_30(alpha, case, engineer):
    def queries(client):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/api/v1/support-cases/{case.pk}/replies/")
        assert response.status_code == 200
        return len(captured), len(response.json()["results"])

    client = api_client(engineer)
    add_replies(case, alpha.staff, 2)
    services.support_case_reply(user=engineer, case=case, body="Looking at it.")
    few, rows_few = queries(client)
    for i in range(27):
        services.support_case_reply(user=engineer if i % 2 else alpha.staff, case=case, body=f"More {i}")
    many, rows_many = queries(client)

    assert (rows_few, rows_many) == (3, 30)
    assert many == few


def test_another_organisations_case_replies_are_still_a_404(bravo, case):
    add_replies(case, case.opened_by, 3)
    client = api_client(bravo.staff)

    assert client.get(f"/api/v1/support-cases/{case.pk}/replies/").status_code == 404
    assert client.get(f"/api/v1/support-cases/{case.pk}/replies/", {"page_size": 1}).status_code == 404
    assert client.post(f"/api/v1/support-cases/{case.pk}/replies/", {"body": "hi"}).status_code == 404
    assert case.replies.count() == 3


def test_a_reply_still_answers_201_with_the_one_reply(alpha, case, engineer):
    add_replies(case, alpha.staff, 3)

    response = api_client(engineer).post(f"/api/v1/support-cases/{case.pk}/replies/", {"body": "On it."})

    assert response.status_code == 201, response.content
    assert response.json()["body"] == "On it." and response.json()["author"] == engineer.username


def test_the_schema_describes_the_replies_as_a_cursor_list():
    schema = yaml.safe_load(api_client().get("/api/v1/schema/").content)
    operations = schema["paths"]["/api/v1/support-cases/{id}/replies/"]

    listed = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = schema["components"]["schemas"][listed["$ref"].rsplit("/", 1)[1]]
    assert set(page["required"]) == {"next", "results"}
    assert page["properties"]["results"]["items"] == {"$ref": "#/components/schemas/CaseReply"}
    parameters = {p["name"]: p for p in operations["get"]["parameters"] if p["in"] == "query"}
    assert set(parameters) == {"cursor", "page_size", "ordering", "updated_since"}
    assert parameters["updated_since"]["schema"] == {"type": "string", "format": "date-time"}
    assert parameters["ordering"]["schema"]["enum"] == ["created_at", "-created_at"]
    created = operations["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/CaseReply"}


def test_updated_since_gives_only_the_replies_since_as_on_every_other_list(alpha, case, engineer):
    add_replies(case, alpha.staff, 2)
    since = datetime.datetime.now(tz=datetime.UTC)
    services.support_case_reply(user=engineer, case=case, body="Looking at it.")
    url = f"/api/v1/support-cases/{case.pk}/replies/"
    client = api_client(alpha.staff)

    bodies, _ = walk(client, f"{url}?updated_since={since.isoformat().replace('+00:00', 'Z')}&page_size=1")
    assert bodies == ["Looking at it."]
    assert client.get(url, {"updated_since": "2999-01-01T00:00:00Z"}).json()["results"] == []
