from django.urls import path

from apn_portal.checks import views

app_name = "pdm"

urlpatterns = [
    path("", views.pdm_dashboard, name="dashboard"),
]
