from django.contrib.auth import views as auth_views

from apn_portal.accounts.forms import OutboxPasswordResetForm


class PasswordResetView(auth_views.PasswordResetView):
    form_class = OutboxPasswordResetForm
