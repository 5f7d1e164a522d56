from django.contrib.auth import views as auth_views
from django.shortcuts import render

from apn_portal.accounts.forms import LoginForm, OutboxPasswordResetForm


class LoginView(auth_views.LoginView):
    form_class = LoginForm


class PasswordResetView(auth_views.PasswordResetView):
    form_class = OutboxPasswordResetForm


class LogoutView(auth_views.LogoutView):
    """Signs out on POST, as Django's does. The address opened (a bookmark, typed) asks first, with the
    sign-out button, rather than a 405."""

    http_method_names = ["get", "head", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "registration/logout_confirm.html")
