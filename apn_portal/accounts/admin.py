"""People who sign in: their organisation (a partner) or, for provider staff, their roles (groups)."""

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from rest_framework.authtoken.models import TokenProxy

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import User
from apn_portal.accounts.roles import is_role_group, role_group_deletion_problems, role_permissions
from apn_portal.accounts.selectors import user_deletion_problems
from apn_portal.admin import AdminInputMixin, GuardedDeletionMixin, LargeTableAdminMixin


class OrganisationFilter(admin.SimpleListFilter):
    title = "organisation"
    parameter_name = "organisation"

    def lookups(self, request, model_admin):
        return [
            ("partner", "A partner's staff"),
            ("customer", "A customer's staff"),
            ("provider", "Provider staff"),
            ("none", "None of these"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "partner":
            return queryset.filter(partner__isnull=False)
        if self.value() == "customer":
            return queryset.filter(customer__isnull=False)
        if self.value() == "provider":
            return queryset.filter(partner__isnull=True, customer__isnull=True, is_staff=True)
        if self.value() == "none":
            return queryset.filter(partner__isnull=True, customer__isnull=True, is_staff=False)
        return queryset


class RoleLeavingMixin:
    """Whether the user admin's form takes a role from the user (User.has_role: active provider staff in
    the role's group), for the guards that refuse it while something still needs them in it."""

    def _holds_now(self, role: StaffRole) -> bool:
        # self.instance still holds the stored user: the form copies its values in afterwards.
        return self.instance.pk is not None and self.instance.has_role(role)

    def _holds_after(self, cleaned, role: StaffRole) -> bool:
        """Whether the user holds `role` (User.has_role) as the form leaves them; a field the form refused,
        or does not show, keeps its stored value."""

        def after(name):
            return cleaned[name] if name in cleaned else getattr(self.instance, name)

        groups = cleaned["groups"] if "groups" in cleaned else self.instance.groups.all()
        return bool(
            after("is_active")
            and after("is_staff")
            and after("partner") is None
            and after("customer") is None
            and any(group.name == role.value for group in groups)
        )

    def _leaves_role(self, cleaned, role: StaffRole) -> bool:
        """Whether the user holds `role` now and would not as the form leaves them."""
        return self._holds_now(role) and not self._holds_after(cleaned, role)

    def _leaves_their_customer(self, cleaned) -> bool:
        """Whether the user is an active member of a customer now and would not be as the form leaves them
        (deactivated, or moved to another organisation): they would no longer hold its access administrator
        role, if they do (engagements.selectors.access_administrator_links)."""
        stored = self.instance
        if stored.pk is None or stored.customer_id is None or not stored.is_active:
            return False
        moved = "customer" in cleaned and getattr(cleaned["customer"], "pk", None) != stored.customer_id
        return moved or not cleaned.get("is_active", True)


class CustomerStaffStayMixin(RoleLeavingMixin):
    """An Account Manager or Solutions Architect stays one (User.has_role: active provider staff in the
    role) while a customer names them there: deactivating them, taking the role or making them anything
    but provider staff is refused, naming those customers, until somebody else is named there; else the
    customer is looked after by nobody (that field gives nothing to somebody without the role:
    engagements.selectors._staff_fields_held_by). As for a designated TAM (UserChangeForm.clean); the
    customers naming them are locked first (UserAdmin.changeform_view), as naming them takes their row."""

    def clean(self):
        cleaned = super().clean()
        # Imported when called: engagements builds on accounts, not the other way round.
        from engagements.selectors import CUSTOMER_STAFF_ROLES, customer_staff_leaving_problems

        leaving = [
            field
            for field, role in CUSTOMER_STAFF_ROLES.items()
            if field != "tam" and self._leaves_role(cleaned, role)
        ]
        if problems := customer_staff_leaving_problems(self.instance, leaving):
            self.add_error(None, problems)
        return cleaned


class UserChangeForm(CustomerStaffStayMixin, DjangoUserChangeForm):
    def clean(self):
        cleaned = super().clean()
        # Imported when called: support and partners build on accounts, not the other way round.
        problems = []
        if self._leaves_role(cleaned, StaffRole.TAM):
            from support.selectors import tam_leaving_problems

            problems += tam_leaving_problems([self.instance.pk])
        if self._leaves_role(cleaned, StaffRole.PDM):
            # A partner's PDM stays one until the partner has another: it would otherwise keep somebody
            # who is no PDM (User.is_pdm), told nothing.
            from partners.selectors import pdm_leaving_problems

            problems += pdm_leaving_problems([self.instance.pk])
        if self._leaves_their_customer(cleaned):
            # A customer keeps an access administrator, as its own page keeps the last one: else nobody on
            # its side could grant partners access to its accounts.
            from engagements.selectors import last_access_administrator_problems

            problems += last_access_administrator_problems([self.instance.pk])
        if problems:
            raise ValidationError(problems)
        return cleaned


@admin.register(User)
class UserAdmin(GuardedDeletionMixin, LargeTableAdminMixin, DjangoUserAdmin):
    """Deleting somebody is refused while deactivating them would be, and once they did anything here:
    records name who made a tier change, approved an enrollment, validated a reference... and would say
    nobody did (deletion_problems). Deactivating them keeps that; a mistyped new account may go."""

    form = UserChangeForm
    list_display = ("username", "full_name", "email", "organisation", "roles", "is_staff", "is_active")
    list_select_related = ("partner", "customer")
    list_filter = (OrganisationFilter, "groups", "is_staff", "is_superuser", "is_active")
    search_fields = ("username", "first_name", "last_name", "email", "partner__name", "customer__name")
    search_help_text = "Search by username, name, email, or organisation name."
    autocomplete_fields = ("partner", "customer")
    ordering = ("username",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        (
            "Organisation",
            {
                "fields": ("partner", "customer"),
                "description": "A partner's or a customer's staff belong to that one organisation. "
                "Provider staff belong to none: they are staff members with roles.",
            },
        ),
        ("Roles and permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Specific permissions", {"classes": ("collapse",), "fields": ("user_permissions",)}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Organisation", {"fields": ("partner", "customer")}),
    )

    def get_queryset(self, request):
        queryset = super().get_queryset(request).prefetch_related("groups")
        if request.user.is_superuser:
            return queryset
        # A customer's people are that customer's own: provider staff see those of the customers they
        # look after (here and in every user autocomplete), as everywhere else in the admin.
        from engagements.selectors import customers_visible_to

        return queryset.filter(
            Q(customer__isnull=True) | Q(customer__in=customers_visible_to(request.user).values("pk"))
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Deactivating a TAM or taking their role is judged (UserChangeForm) and saved in one transaction
        # under their lock, which naming a TAM takes too: a TAM named meanwhile is either seen by the check
        # or, waiting, finds them no TAM; so does adding them to a team (team_member_add), whose seat is
        # either there for save_related to end or, waiting, finds the role gone. A designated TAM is never
        # deleted: SupportSubscription.tam protects them.
        with transaction.atomic():
            user = (
                self.get_object(request, unquote(object_id))
                if object_id and request.method == "POST"
                else None
            )
            if user is not None:
                # Imported when called: engagements and support build on accounts, not the other way round.
                from engagements.services import customers_lock_naming_users
                from support.services import users_lock_leaving_tams

                # The customers whose access administrator they are first, with those naming them, in one
                # pk order: a customer's page removing its other access administrator at the same moment
                # (customer_access_administrators_set) either is seen by the check or, waiting, finds this
                # one gone.
                customers_lock_naming_users([user.pk], team_tam_seats=True, access_administered=True)
                users_lock_leaving_tams([user.pk])
            return super().changeform_view(request, object_id, form_url, extra_context)

    def deletion_problems(self, queryset):
        return user_deletion_problems(queryset)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "customer" in form.changed_data:
            # Imported when called: engagements builds on accounts, not the other way round.
            from engagements.services import customer_access_administrators_drop_leaver

            customer_access_administrators_drop_leaver(user=request.user, member=obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            # Once the roles are saved too: an AM, SA or TAM seat on a customer's team opens its records,
            # so somebody who no longer holds the seat's role leaves those seats (customers locked in
            # changeform_view, by users_lock_leaving_tams). Imported when called, as above.
            from engagements.services import team_seats_follow_member

            team_seats_follow_member(user=request.user, member=form.instance)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "groups":
            field.label = "Roles"
            field.help_text = (
                "Provider staff roles: each role is a group with the admin permissions it needs."
            )
        return field

    @admin.display(description="name", ordering="last_name")
    def full_name(self, user):
        return user.get_full_name()

    @admin.display(description="organisation")
    def organisation(self, user):
        return user.partner or user.customer or ("provider staff" if user.is_staff else "-")

    @admin.display(description="roles")
    def roles(self, user):
        return ", ".join(group.name for group in user.groups.all())


class GroupForm(forms.ModelForm):
    """A role's group keeps the permissions the role needs (roles.ROLE_PERMISSIONS): it may be given more."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self._role() is not None and "permissions" in self.fields:
            self.fields["permissions"].help_text = (
                "What everyone holding the role may do in the admin. The permissions the role needs "
                "stay (every migrate gives them back); more may be added."
            )

    def _role(self) -> StaffRole | None:
        # The stored name: a role group's name is not on its form.
        return StaffRole(self.instance.name) if self.instance.pk and is_role_group(self.instance) else None

    def clean_permissions(self):
        permissions = self.cleaned_data["permissions"]
        role = self._role()
        if role is None:
            return permissions
        missing = (
            role_permissions(role)
            .exclude(pk__in=[permission.pk for permission in permissions])
            .select_related("content_type")
            .order_by("content_type__app_label", "content_type__model", "codename")
        )
        if missing:
            raise ValidationError(
                f"The {role.value} role needs these permissions: "
                + "; ".join(str(permission) for permission in missing)
                + "."
            )
        return permissions


class GroupAdmin(GuardedDeletionMixin, AdminInputMixin, DjangoGroupAdmin):
    """Groups, the provider staff roles among them. A role is its group's name (User.has_role): a role's
    group shows its name read-only and is never deleted, or its staff would silently lose the role; other
    groups are the admin's own."""

    form = GroupForm
    list_display = ("name", "portal_role")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "name") if obj is not None and is_role_group(obj) else fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and is_role_group(obj):
            return False
        return super().has_delete_permission(request, obj)

    def deletion_problems(self, queryset):
        return role_group_deletion_problems(queryset)

    @admin.display(boolean=True, description="provider staff role")
    def portal_role(self, group) -> bool:
        return is_role_group(group)


def _guard_odd_input(model) -> None:
    """Register `model`'s admin from another app (auth, axes, DRF's tokens) again, with AdminInputMixin:
    a NUL in a filter or a search there would otherwise be a 500, as on ours."""
    existing = type(admin.site.get_model_admin(model))
    admin.site.unregister(model)
    admin.site.register(model, type(existing.__name__, (AdminInputMixin, existing), {}))


# Registered before this module runs: their apps come before ours in INSTALLED_APPS.
for _model in (AccessAttempt, AccessLog, AccessFailureLog, TokenProxy):
    _guard_odd_input(_model)
admin.site.unregister(Group)
admin.site.register(Group, GroupAdmin)


class _CleanupFromTheAdmin:
    @admin.action(description="Clean up expired attempts")
    def cleanup_expired_attempts(self, request, queryset):
        # axes' own action counts the cool-off back from the time of a sign-in attempt, which only a
        # sign-in puts on the request; from the admin it is counted back from now.
        request.axes_attempt_time = None
        return super().cleanup_expired_attempts(request, queryset)


_attempts_admin = type(admin.site.get_model_admin(AccessAttempt))
admin.site.unregister(AccessAttempt)
admin.site.register(
    AccessAttempt, type(_attempts_admin.__name__, (_CleanupFromTheAdmin, _attempts_admin), {})
)
