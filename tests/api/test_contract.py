"""The published contract: the OpenAPI document and the interactive docs, served without a CDN."""

import inspect
import re
from urllib.parse import urlsplit

import pytest
import yaml
from django.contrib import admin
from rest_framework.authtoken.models import TokenProxy

from apn_portal.api.auth import TokenObtainView
from apn_portal.api.urls import router
from tests.api.conftest import api_client


@pytest.fixture
def schema(db):
    response = api_client().get("/api/v1/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_documents_the_token_scheme_and_every_error(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["tokenAuth"]["description"].startswith("Token-based")
    operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 40
    for path, method, operation in operations:
        assert {"400", "401", "403", "404", "429"} <= set(operation["responses"]), (method, path)
        if method in ("post", "put", "patch", "delete"):
            assert "409" in operation["responses"], (method, path)
        if method == "post":
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            assert "Idempotency-Key" in headers, (method, path)


# Words of the code, not of the resources: a description with one is a note for the portal's developers.
IMPLEMENTATION_WORDS = re.compile(
    r"\b(DRF|rest_framework|serializers?|querysets?|mixins?|docstrings?|tests?|select_related|TODO)\b",
    re.IGNORECASE,
)


def test_each_method_says_what_its_409_means_and_what_to_do(schema):
    # An update or a deletion is never answered 409 for an Idempotency-Key (a POST's header alone): it tells
    # of the If-Match sent, and to read the record again for its new ETag. A POST takes no If-Match.
    for method, path, operation in _operations(schema):
        conflict = operation["responses"].get("409", {}).get("description", "")
        if method in ("PUT", "PATCH", "DELETE"):
            assert "Idempotency-Key" not in conflict, (method, path)
            assert "`If-Match`" in conflict and "read it again" in conflict, (method, path)
            assert "new `ETag`" in conflict, (method, path)
        elif method == "POST":
            assert "`Idempotency-Key`" in conflict and "If-Match" not in conflict, (method, path)


def test_the_schemas_describe_resources_not_how_they_are_built(schema):
    notes = {
        name: component["description"]
        for name, component in schema["components"]["schemas"].items()
        if IMPLEMENTATION_WORDS.search(component.get("description", ""))
    }
    assert notes == {}
    # The resources that stream many rows are documented like any other.
    for name in ("Partner", "PartnerRequest", "Certification", "CertificationRequest", "TierBrief"):
        assert "DRF" not in schema["components"]["schemas"][name].get("description", "")


def _operations(schema):
    return [
        (method.upper(), path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]


def _inherited_docstrings() -> set[str]:
    """The docstrings of the classes the API's views are built from (mixins, bases, the framework's): notes
    on how the code works, which drf-spectacular would show as the description of an operation whose own
    view says nothing."""
    views = [viewset for _, viewset, _ in router.registry] + [TokenObtainView]
    return {
        inspect.cleandoc(base.__doc__)
        for view in views
        for base in view.__mro__[1:]
        if base.__doc__ and base is not object
    }


def test_every_operation_is_described_for_integrators_not_by_a_base_class(schema):
    inherited = _inherited_docstrings()
    assert any("run_idempotently" in doc for doc in inherited)  # the check sees the mixins
    for method, path, operation in _operations(schema):
        description = operation.get("description", "").strip()
        assert description, (method, path)
        assert not any(doc.splitlines()[0] in description for doc in inherited), (method, path, description)
        assert not IMPLEMENTATION_WORDS.search(description), (method, path, description)


@pytest.mark.parametrize(
    ("path", "goes_with_it"),
    [
        ("/api/v1/staff-members/{id}/", "certifications"),
        ("/api/v1/certifications/{id}/", "tier"),
        ("/api/v1/references/{id}/", "tier"),
        ("/api/v1/webhook-endpoints/{id}/", "deliveries"),
    ],
)
def test_a_delete_says_what_goes_with_the_record(schema, path, goes_with_it):
    description = schema["paths"][path]["delete"]["description"]
    assert goes_with_it in description
    # Its own words, not those of the resource's other operations.
    assert description != schema["paths"][path]["get"]["description"]


def test_every_list_filters_on_updated_since(schema):
    lists = [
        (path, methods["get"])
        for path, methods in schema["paths"].items()
        if "get" in methods and "{" not in path and path.rstrip("/").count("/") == 3
    ]
    assert len(lists) >= 10
    for path, operation in lists:
        names = {p["name"] for p in operation.get("parameters", [])}
        assert "updated_since" in names, path


# Every URL the page's tags load or link to (src, href), however quoted.
ASSET_URL = re.compile(r"""\b(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def _foreign_urls(html: str, own_host: str) -> list[str]:
    urls = [next(part for part in match.groups() if part is not None) for match in ASSET_URL.finditer(html)]
    return [url for url in urls if urlsplit(url).netloc not in ("", own_host)]


@pytest.mark.parametrize(
    ("path", "sidecar_dir"),
    [("/api/v1/docs/", "swagger-ui-dist"), ("/api/v1/redoc/", "redoc")],
)
def test_the_interactive_docs_load_nothing_from_another_host(db, path, sidecar_dir):
    # The portal runs on closed networks: a font or script from a CDN would not load there.
    response = api_client().get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/static/drf_spectacular_sidecar/{sidecar_dir}/" in html
    assert "cdn." not in html and "unpkg" not in html
    assert _foreign_urls(html, own_host="testserver") == []


def test_the_foreign_url_check_sees_what_a_page_could_load():
    html = (
        '<link rel="preconnect" href="https://fonts.googleapis.com">'
        "<script src='//cdn.example.net/x.js'></script><img src=http://img.example.org/a.png>"
        '<a href="/api/v1/">root</a><link href="http://testserver/static/a.css">'
    )
    assert _foreign_urls(html, own_host="testserver") == [
        "https://fonts.googleapis.com",
        "//cdn.example.net/x.js",
        "http://img.example.org/a.png",
    ]


def test_tokens_are_issued_and_revoked_in_the_admin():
    assert admin.site.is_registered(TokenProxy)
