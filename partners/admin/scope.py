"""PDM scope in the admin. Everyone with view permission sees every partner's records; a PDM changes only
the records of the partners assigned to them, a superuser all (partners.selectors decides who may)."""

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.core.exceptions import ObjectDoesNotExist

from apn_portal.admin import refuse_deleting_outside_scope
from apn_portal.text import short_list
from partners.models import Partner, StaffMember
from partners.selectors import partner_is_editable_by, partners_editable_by


def follow(obj, path: str):
    """The object at the end of a Django lookup path ("staff_member__partner"); the object itself for ""."""
    for name in path.split("__") if path else ():
        obj = getattr(obj, name)
    return obj


def is_autocomplete_for_partners_app(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(match and match.url_name == "autocomplete" and request.GET.get("app_label") == "partners")


class PartnerScopedAdminMixin:
    """For a partner or a model that belongs to one: per-object change and delete permission, forms that
    offer only the user's own partners, actions that skip other PDMs' partners with a message."""

    partner_path = "partner"  # lookup from this model to its Partner; "" for Partner itself

    def partner_of(self, obj) -> Partner | None:
        """None for an old version of a record whose partner (or owner on the way) has since been
        deleted, which a superuser may read on its history page."""
        try:
            return follow(obj, self.partner_path)
        except ObjectDoesNotExist:
            return None

    def is_editable(self, request, obj) -> bool:
        # Nobody changes a record whose partner is gone: there is nothing left to change.
        partner = self.partner_of(obj)
        return partner is not None and partner_is_editable_by(partner, request.user)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or self.is_editable(request, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or self.is_editable(request, obj))

    def get_queryset(self, request):
        # The permission checks read the partner's PDM. The changelist adds list_select_related only to a
        # queryset without any select_related, so it is named here too.
        related = [self.partner_path] if self.partner_path else []
        if isinstance(self.list_select_related, list | tuple):
            related += self.list_select_related
        queryset = super().get_queryset(request)
        return queryset.select_related(*related) if related else queryset

    def editable_subset(self, request, queryset):
        lookup = f"{self.partner_path}__in" if self.partner_path else "pk__in"
        return queryset.filter(**{lookup: partners_editable_by(request.user).values("pk")})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            editable = partners_editable_by(request.user)
            if db_field.related_model is Partner:
                kwargs["queryset"] = editable
            elif db_field.related_model is StaffMember:
                kwargs["queryset"] = StaffMember.objects.filter(partner__in=editable.values("pk"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (_delete_selected_in_scope, name, description)
        return actions

    def keep_editable(self, request, objects: list) -> list:
        """The objects the user may change; the others are named in one error message."""
        editable, refused = [], []
        for obj in objects:
            (editable if self.is_editable(request, obj) else refused).append(obj)
        if refused:
            noun = self.opts.verbose_name_plural if len(refused) > 1 else self.opts.verbose_name
            whose = " of partners" if self.partner_path else ""
            self.message_user(
                request,
                f"Skipped {len(refused)} {noun}{whose} not assigned to you"
                f" (only their PDM or a superuser can change them): {short_list(refused)}.",
                messages.ERROR,
            )
        return editable


def _delete_selected_in_scope(modeladmin, request, queryset):
    """Django's bulk delete, refused as a whole when the selection holds another PDM's records."""
    if not request.user.is_superuser:
        refused = queryset.exclude(pk__in=modeladmin.editable_subset(request, queryset).values("pk")).count()
        if refused:
            refuse_deleting_outside_scope(modeladmin, request, refused)
            return None
    return django_delete_selected(modeladmin, request, queryset)


class PartnerChildInlineMixin:
    """An inline on a partner (or on a staff member): editable only where the parent's partner is."""

    parent_partner_path = ""  # lookup from the inline's parent object to its Partner

    def _parent_editable(self, request, parent) -> bool:
        return parent is None or partner_is_editable_by(
            follow(parent, self.parent_partner_path), request.user
        )

    def has_add_permission(self, request, obj):
        return super().has_add_permission(request, obj) and self._parent_editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._parent_editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._parent_editable(request, obj)


class MyPartnersFilter(admin.SimpleListFilter):
    """For a PDM: only the records of the partners assigned to them."""

    title = "scope"
    parameter_name = "mine"

    def __init__(self, request, params, model, model_admin):
        self.partner_path = getattr(model_admin, "partner_path", "partner")
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [("1", "My partners")] if request.user.is_pdm else []

    def queryset(self, request, queryset):
        if self.value() != "1":
            return queryset
        lookup = f"{self.partner_path}__pdm" if self.partner_path else "pdm"
        return queryset.filter(**{lookup: request.user})
