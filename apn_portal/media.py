"""Uploaded files (partner logos), served by the portal itself: on a closed network there may be no
proxy or object store in front of it to serve them, and whitenoise serves only the collected static
files. A proxy that serves MEDIA_ROOT at MEDIA_URL itself simply takes these requests first."""

import posixpath

from django.conf import settings
from django.http import Http404
from django.views.decorators.http import require_safe
from django.views.static import serve

# Only what the portal itself stores for showing on its pages.
SERVED_UPLOADS = ("partner-logos/",)
# ...and only as the image its name says: a logo is stored under the extension of what it holds
# (partners.models.LOGO_EXTENSIONS; ".jpeg" as JPEG logos were named before). No other name is served.
SERVED_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


@require_safe
def uploaded_file(request, path: str):
    path = posixpath.normpath(path).lstrip("/")  # as serve() reads it: "partner-logos/../x" is "x"
    content_type = SERVED_TYPES.get(posixpath.splitext(path)[1].lower())
    if "\x00" in path or not path.startswith(SERVED_UPLOADS) or content_type is None:
        raise Http404("No such file.")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    if response.status_code == 200:
        response["Content-Type"] = content_type
    # An upload is only ever an image on a page: never a page (or a script) of its own.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=86400"
    return response
