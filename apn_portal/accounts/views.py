from django.contrib.auth import views as auth_views

from apn_portal.accounts.forms import LoginForm, OutboxPasswordResetForm


class LoginView(auth_views.LoginView):
    form_class = LoginForm


class PasswordResetView(auth_views.PasswordResetView):
    form_class = OutboxPasswordResetForm
