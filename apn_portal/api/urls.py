"""/api/v1/: the API root, every resource, the OpenAPI schema and the interactive docs."""

from django.urls import Resolver404, include, path, re_path, resolve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.decorators import api_view, permission_classes, schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.routers import APIRootView, DefaultRouter

from apn_portal.api.auth import TokenObtainView
from apn_portal.webhooks.api import router as webhooks_router
from engagements.api.urls import router as engagements_router
from partners.api.urls import router as partners_router
from support.api.urls import router as support_router


class PortalApiRootView(APIRootView):
    """The APN Portal API: every resource below.
    Contract: /api/v1/schema/ (OpenAPI 3), to read and try at /api/v1/docs/.
    Guide to tokens, paging, syncing and webhooks: docs/api.md in the APN Portal's source repository
    (a file there, not a page of this site)."""

    permission_classes = [AllowAny]


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@permission_classes([AllowAny])
@schema(None)
def api_not_found(request, *args, **kwargs):
    raise NotFound("There is no such resource in the API; see /api/v1/ for the list.")


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@permission_classes([AllowAny])
@schema(None)
def api_slash_missing(request, *args, **kwargs):
    """An address of the API written without its final slash: a 308 to the address with it, which a client
    follows with the same method and body (Django's own 301 would turn a POST into a GET, and the write
    would be lost), or the API's 404 if there is no such address either."""
    with_slash = f"{request.path}/"
    try:
        found = resolve(with_slash).url_name != "api-not-found"
    except Resolver404:
        found = False
    if not found:
        return api_not_found(request._request)
    query = request.META.get("QUERY_STRING", "")
    return Response(
        {"detail": f"The API's addresses end with a slash: {with_slash}"},
        status=308,
        headers={"Location": f"{with_slash}?{query}" if query else with_slash},
    )


class PortalRouter(DefaultRouter):
    APIRootView = PortalApiRootView


# One router for the root view, so GET /api/v1/ lists every resource of every app.
router = PortalRouter()
for app_router in (partners_router, engagements_router, support_router, webhooks_router):
    router.registry.extend(app_router.registry)

urlpatterns = [
    path("auth/token/", TokenObtainView.as_view(), name="api-token-obtain"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include(router.urls)),
]

# Anything else under /api, in this version or none, is the API's JSON answer too, not the site's HTML
# page. Included by the site's urls after the version's own addresses; their names keep them out of the
# browsable API's trail (apn_portal.api.renderers).
not_found_urlpatterns = [
    re_path(r"^api(?:/.*)?/$", api_not_found, name="api-not-found"),
    re_path(r"^api(?:/.*[^/])?$", api_slash_missing, name="api-slash-missing"),
]
