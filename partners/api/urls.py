"""The partner domain's routes under /api/v1/: kebab-case plurals."""

from rest_framework.routers import SimpleRouter

from partners.api import views

router = SimpleRouter()
router.register("partners", views.PartnerViewSet, basename="partner")
router.register("tiers", views.TierViewSet, basename="tier")
router.register("tier-changes", views.TierChangeViewSet, basename="tier-change")
router.register("programs", views.ProgramViewSet, basename="program")
router.register("enrollments", views.EnrollmentViewSet, basename="enrollment")
router.register("staff-members", views.StaffMemberViewSet, basename="staff-member")
router.register("certifications", views.CertificationViewSet, basename="certification")
router.register("references", views.CustomerReferenceViewSet, basename="reference")
router.register("contact-requests", views.ContactRequestViewSet, basename="contact-request")

urlpatterns = router.urls
