"""Who may call what, before a view runs.

Visibility is not decided here: each viewset's `scope_queryset` leaves out what the user may not see, so
another organisation's private object is a 404, never a 403 that would confirm it exists. Here:

- a signed-in user, except for the actions a viewset lists in `public_actions` (reading public
  records; sending a contact request);
- to change an existing object, the right to change it (`view.can_change`): by default the
  right to edit the object's partner (its assigned PDM, or a superuser). The services check the same
  rule again, so the admin, the pages and the API cannot drift apart.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission


class PortalPermission(BasePermission):
    message = "You cannot change this record."

    def has_permission(self, request, view):
        if getattr(view, "action", None) in getattr(view, "public_actions", ()):
            return True
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return True
        return view.can_change(obj, request.user)
