"""The partner's signed-in area under /my/."""

from django.urls import path

from partners.views import account

app_name = "my"

urlpatterns = [
    path("", account.scorecard, name="scorecard"),
    path("leads/", account.leads, name="leads"),
    path("leads/<slug:reference>/", account.lead_detail, name="lead-detail"),
    path("leads/<slug:reference>/accept/", account.lead_accept, name="lead-accept"),
    path("leads/<slug:reference>/decline/", account.lead_decline, name="lead-decline"),
    path("leads/<slug:reference>/engagement/", account.lead_engagement, name="lead-engagement"),
    path("profile/", account.profile, name="profile"),
    path("profile/edit/", account.profile_edit, name="profile-edit"),
]
