"""The partner's signed-in area under /my/."""

from django.urls import path

from partners.views import account

app_name = "my"

urlpatterns = [
    path("", account.scorecard, name="scorecard"),
    path("programs/", account.programs, name="programs"),
    path("leads/", account.leads, name="leads"),
    path("leads/<slug:reference>/", account.lead_detail, name="lead-detail"),
    path("leads/<slug:reference>/accept/", account.lead_accept, name="lead-accept"),
    path("leads/<slug:reference>/decline/", account.lead_decline, name="lead-decline"),
    path("leads/<slug:reference>/engagement/", account.lead_engagement, name="lead-engagement"),
    path("references/", account.references, name="references"),
    path("references/new/", account.reference_new, name="reference-new"),
    path("references/<int:pk>/", account.reference_edit, name="reference-edit"),
    path("references/<int:pk>/withdraw/", account.reference_withdraw, name="reference-withdraw"),
    path("profile/", account.profile, name="profile"),
    path("profile/edit/", account.profile_edit, name="profile-edit"),
]
