"""What the Find-a-Partner tests read from a search: names in order, facet counts, the total."""

SEARCH_URL = "/partners/"
API_URL = "/api/v1/partners/"


def search(client, **params):
    """GET /partners/ with the contract's parameters (a list repeats a parameter); asserts a page."""
    response = client.get(SEARCH_URL, params)
    assert response.status_code == 200, response.content[:500]
    return response


def names(response) -> list[str]:
    return [row.name for row in response.context["page"].rows]


def total(response) -> int:
    return response.context["page"].total


def facet(response, name: str) -> dict[str, int]:
    """value -> count of one facet as the page shows it (options and "more" options)."""
    group = next(group for group in response.context["facets"] if group.name == name)
    return {option.value: option.count for option in group.options + group.more_options}


def notes(response) -> list[str]:
    return list(response.context["notes"])


def api_names(q: str) -> list[str]:
    """Names in order, as the API's partner list finds them for the words `q` (anonymously)."""
    from tests.api.conftest import api_client

    response = api_client().get(API_URL, {"q": q})
    assert response.status_code == 200, response.content[:500]
    return [row["name"] for row in response.json()["results"]]
