"""The browsable API: DRF's, with a trail above each page that names only the API's resources."""

from urllib.parse import urlsplit

from django.urls import Resolver404, get_script_prefix, resolve
from rest_framework.renderers import BrowsableAPIRenderer

# The routes that answer every other address under /api (apn_portal.api.urls.not_found_urlpatterns): a
# 404 or a "slash missing", never a resource.
CATCH_ALL_URL_NAMES = frozenset({"api-not-found", "api-slash-missing"})


class PortalBrowsableAPIRenderer(BrowsableAPIRenderer):
    def get_breadcrumbs(self, request):
        # DRF's trail names every API view each shorter address resolves to; the catch-alls resolve all
        # of them (/api, /api/, /api/v1...), so without this the trail starts "Api Slash Missing, Api Not
        # Found, ..." and links to those 404s.
        return [(name, url) for name, url in super().get_breadcrumbs(request) if not _is_catch_all(url)]


def _is_catch_all(url):
    path = urlsplit(url).path
    prefix = get_script_prefix().rstrip("/")
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    try:
        return resolve(path).url_name in CATCH_ALL_URL_NAMES
    except Resolver404:
        return False
