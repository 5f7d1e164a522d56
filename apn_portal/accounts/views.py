from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django.utils.decorators import method_decorator

from apn_portal import drafts
from apn_portal.accounts.forms import LoginForm, OutboxPasswordResetForm
from apn_portal.pages import signed_in_required


class LoginView(auth_views.LoginView):
    form_class = LoginForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Sent to sign in by a form sent signed out: the page says it was not sent (apn_portal.drafts).
        context["unsent"] = drafts.draft_waiting(self.request, context.get(self.redirect_field_name, ""))
        return context


class PasswordResetView(auth_views.PasswordResetView):
    form_class = OutboxPasswordResetForm


@method_decorator(signed_in_required, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's, but sent by someone no longer signed in it says so on the sign-in page, as every other
    signed-in form does, rather than asking them to sign in to see a page (Django's login_required). What
    was typed is not kept: apn_portal.drafts keeps no password, so the page says to type them again."""


class LogoutView(auth_views.LogoutView):
    """Signs out on POST, as Django's does. The address opened (a bookmark, typed) asks first, with the
    sign-out button, rather than a 405."""

    http_method_names = ["get", "head", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "registration/logout_confirm.html")
