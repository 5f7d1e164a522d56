"""The partner's signed-in area under /my/."""

from django.urls import path

from partners.views import account

app_name = "my"

urlpatterns = [
    path("", account.scorecard, name="scorecard"),
]
