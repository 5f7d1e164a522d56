"""The published contract: the OpenAPI document and the interactive docs, served without a CDN."""

import pytest
import yaml
from django.contrib import admin
from rest_framework.authtoken.models import TokenProxy

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


def test_the_interactive_docs_load_their_assets_from_the_portal(db):
    response = api_client().get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn." not in html and "unpkg" not in html


def test_tokens_are_issued_and_revoked_in_the_admin():
    assert admin.site.is_registered(TokenProxy)
