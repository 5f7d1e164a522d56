"""Middleware of the portal's own."""

from django.utils.cache import patch_cache_control


def _directives(response) -> set[str]:
    return {part.split("=")[0].strip().lower() for part in response.get("Cache-Control", "").split(",")}


def private_to_the_signed_in_user(get_response):
    """Every response to a signed-in user (by session or API token), on any page, the admin's as well as
    the partner area's, is `Cache-Control: no-store, private`: no proxy or browser keeps a copy of what
    is for them only, so none shows it after they sign out (the admin's own never_cache already says
    so). A visitor's pages (Find a Partner) are left as they are, and so is a response that says itself
    it is `public` (a partner's logo), before anyone asks who is signed in."""

    def middleware(request):
        response = get_response(request)
        if "public" not in _directives(response) and request.user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response

    return middleware
