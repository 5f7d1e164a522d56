"""The portal's addresses plus two that fail as no view should, to see what people are shown then."""

from django.urls import path

from apn_portal.urls import handler500, urlpatterns  # noqa: F401  (Django reads handler500 from here)


def _fails(request):
    raise RuntimeError("A fault nobody foresaw")


urlpatterns = [
    path("failing/", _fails),
    path("api/v1/failing/", _fails),
    *urlpatterns,
]
