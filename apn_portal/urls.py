from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from apn_portal import health, media
from apn_portal.accounts.forms import AdminLoginForm
from apn_portal.accounts.views import LoginView, LogoutView, PasswordChangeView, PasswordResetView
from apn_portal.api.urls import not_found_urlpatterns as api_not_found_urlpatterns

admin.site.site_header = "APN Portal administration"
admin.site.site_title = "APN Portal admin"
admin.site.index_title = "Partner network"
admin.site.login_form = AdminLoginForm

# Errors outside any view: JSON under /api/, the portal's own pages elsewhere.
handler400 = "apn_portal.pages.bad_request"
handler403 = "apn_portal.pages.permission_denied"
handler500 = "apn_portal.pages.server_error"

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Before Django's own: sign-in refuses an overlong username (LoginForm); the sign-out address opened
    # asks with a button; a reset's email goes through the outbox rather than from the request; a password
    # change sent signed out is said not sent on the sign-in page.
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_reset/", PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("partners/", include("partners.urls")),
    path("my/", include("partners.urls_my")),
    path("my/", include("engagements.urls_my")),
    path("my/support/", include("support.urls")),
    path("pdm/", include("apn_portal.checks.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("apn_portal.api.urls")),
    *api_not_found_urlpatterns,
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", media.uploaded_file, name="uploaded_file"),
]
