"""Support plans, subscriptions and cases under /api/v1/: kebab-case plurals."""

from rest_framework.routers import SimpleRouter

from support.api import views

router = SimpleRouter()
router.register("support-plans", views.SupportPlanViewSet, basename="support-plan")
router.register("support-subscriptions", views.SupportSubscriptionViewSet, basename="support-subscription")
router.register("support-cases", views.SupportCaseViewSet, basename="support-case")

urlpatterns = router.urls
