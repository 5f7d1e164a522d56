"""Customers, accounts and engagements under /api/v1/: kebab-case plurals."""

from rest_framework.routers import SimpleRouter

from engagements.api import views

router = SimpleRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("aws-accounts", views.AwsAccountViewSet, basename="aws-account")
router.register("engagements", views.EngagementViewSet, basename="engagement")
router.register("engagement-partners", views.EngagementPartnerViewSet, basename="engagement-partner")
router.register("access-grants", views.AccessGrantViewSet, basename="access-grant")

urlpatterns = router.urls
