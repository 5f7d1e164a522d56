"""Signed-in pages under /my/ for customers (their organisation and who can access their accounts),
partners (the engagements they are on, the access they hold) and the provider's staff (their customers)."""

from django.urls import path

from engagements import views

app_name = "engagements"

urlpatterns = [
    path("organisation/", views.organisation, name="organisation"),
    path("engagements/", views.engagement_list, name="engagement-list"),
    path("engagements/<int:pk>/", views.engagement_detail, name="engagement-detail"),
    path("engagements/<int:pk>/advance/", views.engagement_advance, name="engagement-advance"),
    path("engagements/<int:pk>/end-contract/", views.engagement_partner_end, name="engagement-partner-end"),
    path("access/", views.access, name="access"),
    path("access/grant/", views.access_grant_create, name="access-grant"),
    path("access/<int:pk>/revoke/", views.access_revoke, name="access-revoke"),
    path("grants/", views.grants_held, name="grants"),
    path("customers/", views.customer_list, name="customers"),
    path("customers/<slug:slug>/", views.customer_detail, name="customer-detail"),
]
