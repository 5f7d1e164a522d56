"""Signed-in support pages under /my/support/."""

from django.urls import path

from support import views

app_name = "support"

urlpatterns = [
    path("", views.support_home, name="home"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_new, name="case-new"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/reply/", views.case_reply, name="case-reply"),
    path("cases/<int:pk>/status/", views.case_status, name="case-status"),
    path("cases/<int:pk>/escalate/", views.case_escalate, name="case-escalate"),
]
