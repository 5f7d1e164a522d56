from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone

from apn_portal.outbox.services import outbox_rendered_email_enqueue


class _NoOverlongUsername:
    """Refuses a username longer than any user can have (the user model's max_length, 150) as the wrong
    username it is, before it reaches authenticate(): django-axes would write it to its sign-in records, whose
    column is shorter than what a form may send, and the page would be an error 500. No user can be locked out
    by it either, since none has such a name; the others' lockout works as before."""

    def clean(self):
        username = self.cleaned_data.get("username")
        user_model = get_user_model()
        max_length = user_model._meta.get_field(user_model.USERNAME_FIELD).max_length
        if username is not None and len(username) > max_length:
            raise self.get_invalid_login_error()
        return super().clean()


class LoginForm(_NoOverlongUsername, AuthenticationForm):
    """The site's sign-in form."""


class AdminLoginForm(_NoOverlongUsername, AdminAuthenticationForm):
    """The admin's sign-in form (admin.site.login_form)."""


# However often a reset is asked for, an account gets one email in this window: enough for a person whose
# email was slow, too few to flood a mailbox (or the mail server's reputation) from the public form.
RESET_EMAIL_WINDOW_SECONDS = 15 * 60


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's password reset form, its email queued in the outbox like every other email of the portal.

    Sending from the request lost the email (logged, never retried) when the mail server was down, hung
    the page while it was slow, and made the page much slower for an address with an account than for one
    without. Now the request only stores the email; the outbox sends (and retries) it after commit.

    The link starts with `PORTAL_URL`, like every other link the portal emails: Django's form takes it from
    the request's Host header, which is wherever the request came in (an internal address behind a proxy)
    or, forged, a host of the sender's choosing.
    """

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        user = context["user"]
        # One email per account per window, however often the form is sent: the form itself says the same
        # for every address (no telling which have an account), so it cannot refuse; it just queues
        # nothing more, and the link already sent keeps working. The cache marks the window's start (as
        # the contact form's throttle does); the dedupe key, one per window, holds the same limit in the
        # database should the cache be lost or not shared between processes.
        if not cache.add(f"password-reset-sent:{user.pk}", True, RESET_EMAIL_WINDOW_SECONDS):
            return
        portal = urlsplit(settings.PORTAL_URL)
        # The template writes `{{ protocol }}://{{ domain }}` before the path, so `domain` keeps any path
        # PORTAL_URL has (a portal served under a prefix).
        context = {
            **context,
            "protocol": portal.scheme,
            "domain": f"{portal.netloc}{portal.path}".rstrip("/"),
        }
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body_html = render_to_string(html_email_template_name, context) if html_email_template_name else ""
        window = int(timezone.now().timestamp()) // RESET_EMAIL_WINDOW_SECONDS
        outbox_rendered_email_enqueue(
            dedupe_key=f"password-reset:{user.pk}:{window}",
            to=[to_email],
            subject=subject,
            body_text=render_to_string(email_template_name, context),
            body_html=body_html,
            confidential=True,
            # For the account, whatever its holder's place: one no longer staff since still has it.
            to_leavers_too=True,
        )
