"""Customers, accounts and engagements in the admin, for the provider's staff.

Everyone sees only what the `*_visible_to` selectors show them (an Account Manager: the customers they look
after; a superuser: all). Access grants are read-only here: only a customer's own people grant access; the
provider's staff may revoke it, with a reason, through the service. Stages and statuses move through
actions that call the services, so their rules hold in the admin as on the pages and the API.
"""

import operator
from functools import reduce

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q

from apn_portal.admin import (
    ROW_REFUSALS,
    AdminInputMixin,
    AuditedAdmin,
    ChosenReadTogetherFormSetMixin,
    DeletedOnlyWithParentMixin,
    GuardedDeletionMixin,
    LargeTableAdminMixin,
    report_refusal,
    selection_too_large,
)
from apn_portal.exceptions import DomainError, PermissionDeniedError
from apn_portal.fields import IdMultipleChoiceField
from apn_portal.forms import REASON_MAX_LENGTH, FormerRoleHoldersKeptMixin, TextareaField
from apn_portal.pages import form_error
from engagements import selectors, services
from engagements.choices import AccessGrantState, EngagementStatus
from engagements.forms import ReasonForm, StageAdvanceConfirmForm
from engagements.models import (
    AccessGrant,
    AwsAccount,
    Customer,
    Engagement,
    EngagementPartner,
    EngagementStageEvent,
    MarketplaceSubscription,
    ProfessionalServicesEngagement,
    TeamMember,
)
from partners.admin.pages import action_form_page

# A form's foreign keys to these accept only the records the user may see.
SCOPED_CHOICES = {
    Customer: selectors.customers_visible_to,
    Engagement: selectors.engagements_visible_to,
    AwsAccount: selectors.accounts_visible_to,
}


class ScopedChoicesMixin:
    """Forms that point only at the customers, engagements and accounts the user may see: the
    autocompletes offer no other, and a hand-made POST naming another customer's record is refused
    like any invalid choice."""

    def _choices(self, request, model):
        selector = SCOPED_CHOICES.get(model)
        return None if selector is None or request.user.is_superuser else selector(request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        choices = self._choices(request, db_field.related_model)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        choices = self._choices(request, db_field.related_model)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class AddsThroughServiceMixin:
    """Adding a row is its service's, which checks and saves the very object the admin built (passed as
    `instance`) and which the admin then goes on with: the inlines, the log entry, the redirect. The add
    form has asked the service's check already. A change is saved as the form has it, unless the model
    has a service for changes too (INLINE_CHANGES, whose check its change form has asked). Models whose
    add is not in INLINE_ADDS have their own `add_through_service`."""

    def save_model(self, request, obj, form, change):
        if change:
            self.change_through_service(request, obj, form)
        else:
            self.add_through_service(request, obj, form)

    def add_through_service(self, request, obj, form):
        add = INLINE_ADDS.get(self.model)
        if add is None:
            raise NotImplementedError
        add(request.user, obj, form.cleaned_data)

    def change_through_service(self, request, obj, form):
        change = INLINE_CHANGES.get(self.model)
        if change is None:
            super().save_model(request, obj, form, True)
        elif form.has_changed():  # nothing to change: the service would refuse a closed engagement for it
            change(request.user, obj, form.cleaned_data)


class ScopedAdminMixin(ScopedChoicesMixin):
    """The changelist, change pages, autocompletes and form choices hold only what the user may see; of
    that, a user changes (or deletes) only what the services would let them change: seeing a customer's
    records (being on one of its teams, say) is not being allowed to change them."""

    visible_to = None  # a selector (staticmethod): user -> queryset of this model
    may_change = None  # the services' rule (staticmethod): user, object -> bool; None: the group's alone

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=self.visible_to(request.user).values("pk"))

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_change(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_change(request, obj)

    def _may_change(self, request, obj) -> bool:
        return obj is None or self.may_change is None or bool(self.may_change(request.user, obj))

    def save_form(self, request, form, change):
        # Before the page writes anything (the record, then its inlines through their services): its
        # customer's row first, the order every service of a customer's records takes (customer, then
        # engagement or account, then what hangs under them), so this save and a service's never wait on
        # each other.
        obj = super().save_form(request, form, change)
        customer_id = _customer_id_of(obj)
        if customer_id is not None:
            Customer.objects.select_for_update(of=("self",)).filter(pk=customer_id).values_list("pk").first()
        return obj


def _customer_id_of(obj) -> int | None:
    """The customer whose record `obj` is (the customer itself, an account, an engagement, or a row of an
    engagement or an account), or None while it has none."""
    if isinstance(obj, Customer):
        return obj.pk
    if getattr(obj, "customer_id", None) is not None:
        return obj.customer_id
    if getattr(obj, "engagement_id", None) is not None:
        return Engagement.objects.filter(pk=obj.engagement_id).values_list("customer_id", flat=True).first()
    if getattr(obj, "account_id", None) is not None:
        return AwsAccount.objects.filter(pk=obj.account_id).values_list("customer_id", flat=True).first()
    return None


# Customers and accounts -------------------------------------------------------------------------------


class AwsAccountInline(admin.TabularInline):
    model = AwsAccount
    fk_name = "customer"
    fields = ("account_id", "name", "management_account", "consolidated_billing", "paid_by", "reseller")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("management_account", "reseller")


class CustomerPeopleField(IdMultipleChoiceField):
    """The customer's access administrators, chosen among its own active people (`queryset`); anyone else
    named is refused by name, with why."""

    customer = None

    def clean(self, value):
        try:
            return super().clean(value)
        except ValidationError as error:
            refused = []
            if error.code == "invalid_choice":  # not an id, or nobody's: refused as Django has it
                # One equality each (not IN): an id beyond the column's range then matches nobody.
                named = reduce(operator.or_, (Q(pk=pk) for pk in value))
                refused = list(
                    get_user_model().objects.filter(named).exclude(pk__in=self.queryset.values("pk"))
                )
            if not refused:
                raise
            problem = services.customer_people_problems(self.customer, {"access_administrators": refused})
            if problem:
                raise ValidationError(problem["access_administrators"], code="invalid_choice") from None
            names = ", ".join(str(member) for member in refused)
            raise ValidationError(
                f"Only active people can administer access: {names} can no longer sign in.",
                code="invalid_choice",
            ) from None


class CustomerAdminForm(FormerRoleHoldersKeptMixin, forms.ModelForm):
    user = None  # the person editing, set by the admin for each request
    # An AM, SA or TAM recorded before they left stays shown, and kept, until a current one is chosen.
    former_role_holders = selectors.CUSTOMER_STAFF_ROLES

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("access_administrators")
        if field is None:  # shown read-only
            return
        customer = self.instance if self.instance.pk else None
        users = get_user_model().objects
        # Only the customer's own active people hold the role (selectors.customer_access_administrators),
        # so only they are offered; one not registered yet has nobody.
        field.queryset = users.filter(customer=customer, is_active=True) if customer else users.none()
        field.customer = customer
        if customer is None or not self.is_bound:
            return
        # A link to someone who has left (another organisation, deactivated) no longer gives the role: the
        # field does not show it, and a page read before they left does not have its save refused for it.
        # Dropped from what is posted, it is dropped from the links when the form is saved.
        stale = {
            str(pk)
            for pk in customer.access_administrators.exclude(
                pk__in=selectors.customer_access_administrators(customer).values("pk")
            ).values_list("pk", flat=True)
        }
        name = self.add_prefix("access_administrators")
        if stale and hasattr(self.data, "getlist"):
            self.data = self.data.copy()
            self.data.setlist(name, [pk for pk in self.data.getlist(name) if str(pk) not in stale])

    def clean(self):
        cleaned = super().clean()
        existing = self.instance if self.instance.pk else None
        for field, message in services.customer_people_problems(existing, cleaned).items():
            if field in self.fields and field in self.changed_data:
                self.add_error(field, message)
        naming = "access_administrators" in self.changed_data and "access_administrators" not in self.errors
        if existing is not None and naming:
            try:
                services.customer_access_administrators_set_check(
                    user=self.user, customer=existing, members=cleaned.get("access_administrators") or ()
                )
            except DomainError as error:
                form_error(self, error, {"members": "access_administrators"})
        if existing is not None and "time_zone" in self.changed_data and cleaned.get("time_zone"):
            try:
                services.customer_time_zone_change_check(
                    user=self.user, customer=existing, time_zone=cleaned["time_zone"]
                )
            except DomainError as error:
                form_error(self, error)
        return cleaned


@admin.register(Customer)
class CustomerAdmin(GuardedDeletionMixin, ScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin):
    form = CustomerAdminForm
    visible_to = staticmethod(selectors.customers_visible_to)
    may_change = staticmethod(selectors.user_can_manage_customer)
    list_display = ("name", "agreement", "account_manager", "solutions_architect", "tam", "time_zone")
    list_select_related = ("account_manager", "solutions_architect", "tam")
    list_filter = ("agreement", ("account_manager", admin.RelatedOnlyFieldListFilter), "time_zone")
    search_fields = ("name", "slug")
    search_help_text = "Search by customer name or slug."
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("account_manager", "solutions_architect", "tam", "access_administrators")
    ordering = ("name", "id")
    inlines = (AwsAccountInline,)
    fieldsets = (
        (None, {"fields": ("name", "slug", "agreement", "time_zone")}),
        ("Looked after by", {"fields": ("account_manager", "solutions_architect", "tam")}),
        (
            "Access",
            {
                "fields": ("access_administrators",),
                "description": "The customer's own staff who grant and revoke partners' access to its "
                "accounts. People are linked to the customer on their user record.",
            },
        ),
    )

    def deletion_problems(self, queryset):
        return selectors.customer_deletion_problems(queryset)

    def has_add_permission(self, request):
        # The group's "add" is the engagements app's, for the customer's accounts and engagements too: a
        # new customer is registered by whom customer_create lets register one.
        return super().has_add_permission(request) and selectors.user_registers_customers(request.user)

    def get_readonly_fields(self, request, obj=None):
        # Who looks after a customer is for its Account Manager (or a superuser) to name, as the service
        # customer_assign_staff has it; its SA and TAM see them here but do not change them.
        # Its access administrators, by customer_access_administrators_set's rule, likewise.
        if obj is None:
            return ()
        readonly = ()
        if not selectors.user_names_customer_staff(request.user, obj):
            readonly += tuple(services.CUSTOMER_STAFF_ROLES)
        if not selectors.user_names_access_administrators(request.user, obj):
            readonly += ("access_administrators",)
        return readonly

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "access_administrators":
            kwargs["form_class"] = CustomerPeopleField
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = type("CustomerAdminForm", (self.form,), {"user": request.user})
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        tam = obj.tam
        naming_tam = change and "tam" in form.changed_data
        if naming_tam:
            # The TAM is the one the customer's support plan serves it with: naming another changes that
            # plan's TAM, which the service does (the form has checked it may), after the other fields.
            obj.tam_id = form.initial.get("tam")
        if change and "time_zone" in form.changed_data:
            self._save_with_time_zone(request, obj, form)
        else:
            super().save_model(request, obj, form, change)
        if naming_tam:
            services.customer_assign_staff(user=request.user, customer=obj, field="tam", member=tam)
            obj.tam = tam

    def save_related(self, request, form, formsets, change):
        # A customer's access administrators change through the service (never none left), which the
        # form's clean has already asked; the form's own many-to-many save must not set them first.
        naming = change and "access_administrators" in form.changed_data
        members = form.cleaned_data.pop("access_administrators", None) if naming else None
        super().save_related(request, form, formsets, change)
        if members is None:
            return
        # Refused here only if the records changed since the form was checked: the whole save is then
        # undone and the form shown again as typed, with why (AdminInputMixin.changeform_view).
        services.customer_access_administrators_set(
            user=request.user, customer=form.instance, members=members
        )

    def _save_with_time_zone(self, request, obj, form):
        # The customer's days move with its time zone, and its live grants' ends with them: that goes
        # through the service, which saves the form's other changes with the zone (one edit, one save).
        # The people (access administrators) are saved afterwards with the form's many-to-many data.
        others = [
            name
            for name in form.changed_data
            if name != "tam" and not Customer._meta.get_field(name).many_to_many
        ]
        done = services.customer_time_zone_change(
            user=request.user, customer=obj, time_zone=obj.time_zone, fields=others
        )
        told = []
        if done.moved:
            told.append(f"{len(done.moved)} live access grant(s) now end by the calendar there")
        if done.ended:
            told.append(f"{len(done.ended)} ended at once, their end being already past there")
        if told:
            self.message_user(
                request,
                f"{obj} now works in {obj.time_zone}: {'; '.join(told)}.",
                messages.WARNING if done.ended else messages.INFO,
            )


class AccessGrantStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return AccessGrantState.choices

    def queryset(self, request, queryset):
        return selectors.access_grants_in_state(queryset, self.value()) if self.value() else queryset


class AwsAccountAdminForm(forms.ModelForm):
    def clean_management_account(self):
        # The database refuses both (a trigger keeps the tree one level deep); say so on the form.
        management = self.cleaned_data.get("management_account")
        account = self.instance
        if management is None or account.pk is None:
            return management
        if management.pk == account.pk:
            raise forms.ValidationError("An account cannot be its own management account.")
        if account.member_accounts.exists():
            raise forms.ValidationError(
                f"{account} is the management account of other accounts; it cannot be a member itself."
            )
        return management


@admin.register(AwsAccount)
class AwsAccountAdmin(GuardedDeletionMixin, ScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin):
    form = AwsAccountAdminForm
    visible_to = staticmethod(selectors.accounts_visible_to)
    # An account is changed by whom the service lets add one (aws_account_create).
    may_change = staticmethod(
        lambda user, account: selectors.user_can_manage_customer(user, account.customer)
    )
    list_display = ("account_id", "name", "customer", "management_account", "consolidated_billing", "paid_by")
    list_select_related = ("customer", "management_account", "reseller")
    list_filter = ("paid_by", "consolidated_billing", "customer__agreement")
    search_fields = ("account_id", "name", "customer__name")
    search_help_text = "Search by the 12-digit id, the account's name or the customer's name."
    autocomplete_fields = ("customer", "management_account", "reseller")
    ordering = ("customer__name", "account_id")
    fields = (
        "account_id",
        "name",
        "customer",
        "management_account",
        "consolidated_billing",
        "paid_by",
        "reseller",
    )

    def deletion_problems(self, queryset):
        return selectors.account_deletion_problems(queryset)

    def get_readonly_fields(self, request, obj=None):
        # An account is one AWS account of one customer for good: moving it (or renumbering it) would
        # leave the partners' grants on it pointing at another customer's, or another, account.
        return ("account_id", "customer") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if not change:
            # Whom aws_account_create lets add one: seeing the customer (from one of its engagements'
            # teams) is not managing it.
            if not selectors.user_can_manage_customer(request.user, obj.customer):
                raise PermissionDeniedError(f"You cannot add accounts to {obj.customer}.", field="customer")
            super().save_model(request, obj, form, change)
            return
        # Through the service: a reseller changed or removed takes the customer's partner-led support
        # cases with it, in this save's transaction.
        services.aws_account_change(user=request.user, account=obj, fields=form.changed_data)


# Engagements ------------------------------------------------------------------------------------------


class StageEventInline(admin.TabularInline):
    model = EngagementStageEvent
    fields = ("stage", "reached_on", "recorded_by", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recorded_by")


class EngagementPartnerInline(admin.TabularInline):
    model = EngagementPartner
    fk_name = "engagement"
    fields = (
        "partner",
        "role",
        "contract_start",
        "contract_end",
        "territory",
        "business_function",
        "replaced_by",
    )
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # Each row names itself and its successor: "<partner> as <role> on <engagement> (<customer>)".
        return (
            super()
            .get_queryset(request)
            .select_related(
                "partner", "engagement__customer", "replaced_by__partner", "replaced_by__engagement__customer"
            )
        )


def _team_member_problem(form, user, engagement, cleaned) -> None:
    """Tell `form` (a team member's, not saved yet) what team_member_add would refuse."""
    try:
        services.team_member_add_check(
            user=user, engagement=engagement, role=cleaned.get("role"), member=cleaned.get("user")
        )
    except DomainError as error:
        form_error(form, error, {"member": "user"})


# Membership opens the customer's records to the member: a row of the team stays that person's in that
# role (somebody else, or another role, is added as a member of their own, through team_member_add).
TEAM_MEMBER_IDENTITY = ("engagement", "user", "role")
TEAM_MEMBER_IDENTITY_REFUSAL = (
    "A team member stays the person, and in the role, they joined as: add anybody else, or another role, "
    "as a new member."
)


def _team_member_rejoin_problem(form, cleaned) -> None:
    """Leaving closes the customer's records to the member: emptying `left_on` would open them again
    without team_member_add's rules (the person still fits the role, the engagement is open), so somebody
    who left comes back as a new member."""
    left_on = form.initial.get("left_on")
    if left_on is not None and "left_on" in form.changed_data and cleaned.get("left_on") is None:
        form.add_error(
            "left_on",
            f"This member left the team on {left_on:%d %b %Y}: add them again as a new member to bring "
            "them back.",
        )


class EngagementRowsFormSet(ChosenReadTogetherFormSetMixin, forms.BaseInlineFormSet):
    """An engagement's rows of one inline: each row added or changed is told, before anything is saved,
    what its service would refuse (`check_row`). Rows being deleted, or left as they were, are not asked."""

    user = None  # the person editing, set by EngagementRowsInlineMixin for each request

    def clean(self):
        super().clean()
        engagement = self.instance
        if engagement.pk is None and engagement.customer_id is None:
            return  # the engagement's own form says what is missing
        for form in self.forms:
            cleaned = getattr(form, "cleaned_data", None)
            if not cleaned or cleaned.get("DELETE") or not form.has_changed():
                continue
            self.check_row(form, cleaned, engagement)

    def check_row(self, form, cleaned, engagement) -> None:
        raise NotImplementedError


class EngagementRowsInlineMixin:
    """An inline whose formset (an EngagementRowsFormSet) checks its rows for the person editing."""

    def get_formset(self, request, obj=None, **kwargs):
        kwargs["formset"] = type(self.formset.__name__, (self.formset,), {"user": request.user})
        return super().get_formset(request, obj, **kwargs)


class TeamMemberFormSet(EngagementRowsFormSet):
    def check_row(self, form, cleaned, engagement) -> None:
        if form.instance.pk is None:
            if "role" in cleaned:
                _team_member_problem(form, self.user, engagement, cleaned)
            return
        for field in TEAM_MEMBER_IDENTITY:
            if field in form.changed_data:
                form.add_error(field, TEAM_MEMBER_IDENTITY_REFUSAL)
        _team_member_rejoin_problem(form, cleaned)


class TeamMemberInline(EngagementRowsInlineMixin, AdminInputMixin, ScopedChoicesMixin, admin.TabularInline):
    model = TeamMember
    formset = TeamMemberFormSet
    fields = ("user", "name", "email", "role", "joined_on", "left_on", "note")
    autocomplete_fields = ("user",)
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


def _professional_services_problem(form, user, engagement, cleaned) -> None:
    """Tell `form` (Professional Services not saved yet) what professional_services_add would refuse."""
    if not cleaned.get("bought_by") or any(name in form.errors for name in PROFESSIONAL_SERVICES_BUYING):
        return  # the field's own error says what is missing
    try:
        services.professional_services_add_check(
            user=user,
            engagement=engagement,
            bought_by=cleaned["bought_by"],
            buying_partner=cleaned.get("buying_partner"),
            consultant=cleaned.get("consultant"),
            starts_on=cleaned.get("starts_on"),
            ends_on=cleaned.get("ends_on"),
        )
    except DomainError as error:
        form_error(form, error)


def _professional_services_change_problem(form, user, cleaned) -> None:
    """Tell `form` (Professional Services already recorded) what professional_services_update would
    refuse of its change."""
    try:
        services.professional_services_update_check(
            user=user,
            services=form.instance,
            starts_on=cleaned.get("starts_on"),
            ends_on=cleaned.get("ends_on"),
        )
    except DomainError as error:
        form_error(form, error)


# What was bought, by whom and for which engagement stays as recorded: another buyer (or engagement) would
# skip professional_services_add's rules, and another consultant would not join the team (which the
# service does). Other services are recorded as new ones.
PROFESSIONAL_SERVICES_BUYING = ("engagement", "bought_by", "buying_partner", "consultant")
PROFESSIONAL_SERVICES_BUYING_REFUSAL = (
    "Who bought these services, for which engagement, and their consultant stay as recorded: record "
    "other services as new ones."
)


class ProfessionalServicesFormSet(EngagementRowsFormSet):
    def check_row(self, form, cleaned, engagement) -> None:
        if form.instance.pk is None:
            _professional_services_problem(form, self.user, engagement, cleaned)
            return
        for field in PROFESSIONAL_SERVICES_BUYING:
            if field in form.changed_data:
                form.add_error(field, PROFESSIONAL_SERVICES_BUYING_REFUSAL)
        _professional_services_change_problem(form, self.user, cleaned)


class ProfessionalServicesInline(
    EngagementRowsInlineMixin, AdminInputMixin, ScopedChoicesMixin, admin.StackedInline
):
    model = ProfessionalServicesEngagement
    formset = ProfessionalServicesFormSet
    fields = (
        ("bought_by", "buying_partner"),
        "goal",
        "capability_gap",
        "consultant",
        ("starts_on", "ends_on"),
    )
    autocomplete_fields = ("buying_partner", "consultant")
    extra = 0

    def get_queryset(self, request):
        # Each row's title (its __str__) names its engagement and the engagement's customer.
        return (
            super()
            .get_queryset(request)
            .select_related("buying_partner", "consultant", "engagement__customer")
        )


SUBSCRIPTION_FIELDS = ("product", "vendor", "accounts", "subscribed_on")


def _subscription_problem(form, user, engagement, cleaned, changing=None) -> None:
    """Tell `form` what marketplace_subscription_add would refuse of the subscription it adds or, re-asked,
    of the one it changes (`changing`)."""
    if any(name not in cleaned for name in SUBSCRIPTION_FIELDS):
        return  # the field's own error says what is wrong with it
    try:
        services.marketplace_subscription_add_check(
            user=user,
            engagement=engagement,
            product=cleaned["product"],
            vendor=cleaned["vendor"],
            accounts=cleaned["accounts"],
            subscribed_on=cleaned["subscribed_on"],
            changing=changing,
        )
    except DomainError as error:
        form_error(form, error)


class MarketplaceSubscriptionFormSet(EngagementRowsFormSet):
    def check_row(self, form, cleaned, engagement) -> None:
        changing = form.instance if form.instance.pk is not None else None
        _subscription_problem(form, self.user, engagement, cleaned, changing)


class MarketplaceSubscriptionAdminForm(forms.ModelForm):
    """A subscription added or changed here is held to marketplace_subscription_add's rules."""

    user = None  # the person editing, set by the admin for each request

    def clean(self):
        cleaned = super().clean()
        changing = self.instance if self.instance.pk is not None else None
        engagement = changing.engagement if changing is not None else cleaned.get("engagement")
        if engagement is not None and (changing is None or self.has_changed()):
            _subscription_problem(self, self.user, engagement, cleaned, changing)
        return cleaned


class MarketplaceSubscriptionInline(
    EngagementRowsInlineMixin, AdminInputMixin, ScopedChoicesMixin, admin.TabularInline
):
    model = MarketplaceSubscription
    formset = MarketplaceSubscriptionFormSet
    # Not `subscribed_by`: the service records who subscribed, and a choice of users would list everyone.
    fields = SUBSCRIPTION_FIELDS
    autocomplete_fields = ("vendor", "accounts")
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("vendor").prefetch_related("accounts")


class EngagementStartForm(forms.ModelForm):
    """Adding an engagement is starting one (engagements.services.engagement_create): who may not start
    one for the customer is told so on the form, before anything is saved."""

    user = None  # the person adding it, set by the admin for each request

    def clean(self):
        cleaned = super().clean()
        customer = cleaned.get("customer")
        if customer is not None:
            try:
                services.engagement_create_check(user=self.user, customer=customer)
            except DomainError as error:
                form_error(self, error)
        return cleaned


def _add_team_member(user, member, cleaned) -> None:
    services.team_member_add(
        user=user,
        engagement=member.engagement,
        role=member.role,
        member=member.user,
        name=member.name,
        email=member.email,
        joined_on=member.joined_on,
        note=member.note,
        instance=member,
    )


def _add_professional_services(user, bought, cleaned) -> None:
    services.professional_services_add(
        user=user,
        engagement=bought.engagement,
        bought_by=bought.bought_by,
        goal=bought.goal,
        capability_gap=bought.capability_gap,
        starts_on=bought.starts_on,
        ends_on=bought.ends_on,
        buying_partner=bought.buying_partner,
        consultant=bought.consultant,
        instance=bought,
    )


def _add_subscription(user, subscription, cleaned) -> None:
    services.marketplace_subscription_add(
        user=user,
        engagement=subscription.engagement,
        product=subscription.product,
        vendor=subscription.vendor,
        accounts=cleaned["accounts"],
        subscribed_on=subscription.subscribed_on,
        instance=subscription,
    )


def _change_professional_services(user, bought, cleaned) -> None:
    services.professional_services_update(
        user=user,
        services=bought,
        goal=bought.goal,
        capability_gap=bought.capability_gap,
        starts_on=bought.starts_on,
        ends_on=bought.ends_on,
    )


def _change_subscription(user, subscription, cleaned) -> None:
    services.marketplace_subscription_update(
        user=user,
        subscription=subscription,
        product=subscription.product,
        vendor=subscription.vendor,
        accounts=cleaned["accounts"],
        subscribed_on=subscription.subscribed_on,
    )


# The services that add an engagement's rows, from its inlines or their own admins: model -> (user,
# unsaved row, its form's cleaned data). The row's engagement is set: by its form, or by the inline
# formset's save_new.
INLINE_ADDS = {
    TeamMember: _add_team_member,
    ProfessionalServicesEngagement: _add_professional_services,
    MarketplaceSubscription: _add_subscription,
}
# And those that change them, where a change has rules of its own: model -> (user, changed row, its form's
# cleaned data). Other rows are saved as their forms have them.
INLINE_CHANGES = {
    ProfessionalServicesEngagement: _change_professional_services,
    MarketplaceSubscription: _change_subscription,
}


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (s.value, s.label)
            for s in (EngagementStatus.ACTIVE, EngagementStatus.ON_HOLD, EngagementStatus.CANCELLED)
        ]
    )
    reason = TextareaField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Needed to cancel: it ends every grant.",
    )


@admin.register(Engagement)
class EngagementAdmin(
    GuardedDeletionMixin, AddsThroughServiceMixin, ScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin
):
    visible_to = staticmethod(selectors.engagements_visible_to)
    may_change = staticmethod(selectors.user_can_manage_engagement)
    list_display = ("title", "customer", "status", "stage", "procurement_model", "completed_on", "created_at")
    list_select_related = ("customer",)
    list_filter = ("status", "stage", "procurement_model", "created_at")
    search_fields = ("title", "workload", "customer__name")
    search_help_text = "Search by title, workload or customer."
    autocomplete_fields = ("customer",)
    ordering = ("-created_at", "-id")
    date_hierarchy = "created_at"
    fields = (
        "customer",
        "title",
        "workload",
        "description",
        "procurement_model",
        "status",
        "stage",
        "completed_on",
        "contact_request",
        "customer_reference",
        "created_by",
    )
    inlines = (
        StageEventInline,
        EngagementPartnerInline,
        TeamMemberInline,
        ProfessionalServicesInline,
        MarketplaceSubscriptionInline,
    )
    actions = ("advance_stage", "change_status", "complete")

    def deletion_problems(self, queryset):
        return selectors.engagement_deletion_problems(queryset)

    def get_queryset(self, request):
        # An engagement's name names its customer: in the autocompletes of the engagement's rows' pages too.
        return super().get_queryset(request).select_related("customer")

    def get_readonly_fields(self, request, obj=None):
        # Status, stage and completion follow the engagement's rules: they move through the actions.
        readonly = ["status", "stage", "completed_on", "contact_request", "customer_reference", "created_by"]
        return [*readonly, "customer"] if obj is not None else readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = type("EngagementStartForm", (EngagementStartForm,), {"user": request.user})
        return super().get_form(request, obj, change, **kwargs)

    def add_through_service(self, request, obj, form):
        # Adding is starting.
        services.engagement_create(
            user=request.user,
            customer=obj.customer,
            title=obj.title,
            workload=obj.workload,
            procurement_model=obj.procurement_model,
            description=obj.description,
            stage=obj.stage,
            instance=obj,
        )

    def save_formset(self, request, form, formset, change):
        add = INLINE_ADDS.get(formset.model)
        if add is None:
            super().save_formset(request, form, formset, change)
            return
        # A new row is added through its service (its formset's clean has asked it already); a row already
        # there is changed through its service if it has one, else saved as it is, with its many-to-many.
        formset.save(commit=False)
        for gone in formset.deleted_objects:
            gone.delete()
        update = INLINE_CHANGES.get(formset.model)
        for row_form in formset.saved_forms:
            row = row_form.instance
            if row.pk is not None and update is None:
                row.save()
                row_form.save_m2m()
                continue
            # A refusal here (the records changed since the formset was checked) undoes the whole save,
            # which is shown again as typed, with why (AdminInputMixin.changeform_view): never half saved.
            if row.pk is not None:
                update(request.user, row, row_form.cleaned_data)
            else:
                add(request.user, row, row_form.cleaned_data)

    def _each(self, request, queryset, verb, call):
        if selection_too_large(self, request, queryset):
            return
        self._apply(request, queryset.select_related("customer"), verb, call)

    def _apply(self, request, engagements, verb, call):
        done = []
        for engagement in engagements:
            try:
                call(engagement)
            except ROW_REFUSALS as error:
                report_refusal(self, request, engagement.title, error)
                continue
            done.append(engagement.title)
        if done:
            self.message_user(request, f"{verb} {len(done)}: {'; '.join(done)}.", messages.SUCCESS)

    @admin.action(description="Advance selected engagements to their next stage…", permissions=["change"])
    def advance_stage(self, request, queryset):
        # A confirmation naming each engagement's next step, which is passed on as to_stage: the same POST
        # sent twice (a double click, a resubmit) finds them past that step, instead of moving them again.
        if selection_too_large(self, request, queryset):
            return None
        engagements = list(queryset.select_related("customer"))
        applying = "apply" in request.POST
        form = StageAdvanceConfirmForm(request.POST if applying else None, engagements=engagements)
        if applying and form.is_valid():
            targets = form.cleaned_data["targets"]
            self._apply(
                request,
                [engagement for engagement in engagements if engagement.pk in targets],
                "Advanced",
                lambda engagement: services.engagement_stage_advance(
                    user=request.user, engagement=engagement, to_stage=targets[engagement.pk]
                ),
            )
            return None
        if not applying and not form.fields["targets"].choices:
            self.message_user(
                request, "The selected engagements have all reached the last step.", messages.WARNING
            )
            return None
        return action_form_page(
            self,
            request,
            action="advance_stage",
            title="Advance engagements to their next step",
            intro="Untick any engagement that has not reached the step named.",
            objects=engagements,
            describe=lambda e: (
                f"{e.title} ({e.customer}): {e.get_stage_display()}, {e.get_status_display().lower()}"
            ),
            form=form,
            submit_label="Advance",
        )

    @admin.action(
        description="Complete selected engagements (creates the partner's reference)", permissions=["change"]
    )
    def complete(self, request, queryset):
        self._each(
            request,
            queryset,
            "Completed",
            lambda engagement: services.engagement_complete(user=request.user, engagement=engagement),
        )

    @admin.action(description="Start, hold, resume or cancel selected engagements…", permissions=["change"])
    def change_status(self, request, queryset):
        if selection_too_large(self, request, queryset):
            return None
        engagements = list(queryset.select_related("customer"))
        form = StatusForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            status, reason = form.cleaned_data["status"], form.cleaned_data["reason"]
            self._each(
                request,
                queryset,
                f"Set to {EngagementStatus(status).label.lower()}",
                lambda engagement: services.engagement_status_change(
                    user=request.user, engagement=engagement, status=status, reason=reason
                ),
            )
            return None
        return action_form_page(
            self,
            request,
            action="change_status",
            title="Change the status of engagements",
            intro="Cancelling an engagement ends every contract still running under it and revokes every "
            "partner's access under it, with the reason: where a contract is still running, only the "
            "customer's access administrators (or a superuser) can cancel it.",
            objects=engagements,
            describe=lambda e: f"{e.title} ({e.customer}, {e.get_status_display().lower()})",
            form=form,
            submit_label="Change status",
        )


class EngagementPartnerAddForm(forms.ModelForm):
    """Adding a partner is engagement_partner_add: what it would refuse is said on the form."""

    user = None  # the person adding it, set by the admin for each request

    def clean(self):
        cleaned = super().clean()
        engagement, partner, role = (cleaned.get(name) for name in ("engagement", "partner", "role"))
        if engagement is not None and partner is not None and role:
            try:
                services.engagement_partner_add_check(
                    user=self.user, engagement=engagement, partner=partner, role=role
                )
            except DomainError as error:
                form_error(self, error)
        return cleaned


@admin.register(EngagementPartner)
class EngagementPartnerAdmin(
    GuardedDeletionMixin, AddsThroughServiceMixin, ScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin
):
    visible_to = staticmethod(selectors.engagement_partners_visible_to)
    may_change = staticmethod(
        lambda user, engaged: selectors.user_can_manage_engagement(user, engaged.engagement)
    )
    list_display = (
        "partner",
        "role",
        "engagement",
        "contract_start",
        "contract_end",
        "territory",
        "replaced_by",
    )
    list_select_related = (
        "partner",
        "engagement__customer",
        "replaced_by__partner",
        "replaced_by__engagement__customer",
    )
    list_filter = ("role", "contract_end", ("replaced_by", admin.EmptyFieldListFilter))
    search_fields = ("partner__name", "engagement__title", "engagement__customer__name", "territory")
    search_help_text = "Search by partner, engagement, customer or territory."
    autocomplete_fields = ("engagement", "partner")
    ordering = ("-contract_start", "-id")
    fields = (
        "engagement",
        "partner",
        "role",
        ("contract_start", "contract_end"),
        ("territory", "business_function"),
        "replaced_by",
        ("ended_reason", "ended_before_start", "ended_by_cancellation"),
        "added_by",
    )
    readonly_fields = (
        "replaced_by",
        "ended_reason",
        "ended_before_start",
        "ended_by_cancellation",
        "added_by",
    )
    # The partner's access grants hang on this contract: another partner, role or engagement here would
    # hand them over unseen, and a shorter contract would cut under them. Replacing the partner (which
    # revokes its access, with the reason) is the customer's decision, through its replacement service.
    CONTRACT_FIELDS = ("engagement", "partner", "role", "contract_start", "contract_end")

    def deletion_problems(self, queryset):
        return selectors.engagement_partner_deletion_problems(queryset)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return (*self.CONTRACT_FIELDS, *self.readonly_fields)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = type(
                "EngagementPartnerAddForm", (EngagementPartnerAddForm,), {"user": request.user}
            )
        return super().get_form(request, obj, change, **kwargs)

    def add_through_service(self, request, obj, form):
        services.engagement_partner_add(
            user=request.user,
            engagement=obj.engagement,
            partner=obj.partner,
            role=obj.role,
            contract_start=obj.contract_start,
            contract_end=obj.contract_end,
            territory=obj.territory,
            business_function=obj.business_function,
            instance=obj,
        )


@admin.register(AccessGrant)
class AccessGrantAdmin(ScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin):
    visible_to = staticmethod(selectors.access_grants_visible_to)
    list_display = (
        "account",
        "partner",
        "role_name",
        "scope",
        "mfa_required",
        "granted_at",
        "expires_at",
        "state",
        "ended_at",
    )
    list_select_related = ("account", "engagement_partner__partner", "granted_by", "revoked_by")
    list_filter = (AccessGrantStatusFilter, "scope", "mfa_required", "engagement_partner__role", "expires_at")
    search_fields = (
        "account__account_id",
        "role_arn",
        "engagement_partner__partner__name",
        "account__customer__name",
    )
    search_help_text = "Search by account id, role ARN, partner or customer."
    ordering = ("-granted_at", "-id")
    date_hierarchy = "granted_at"
    actions = ("revoke",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in AccessGrant._meta.fields]

    def has_add_permission(self, request):
        # Only the customer's own access administrators grant access, on their pages or through the API.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="partner", ordering="engagement_partner__partner__name")
    def partner(self, grant):
        return grant.engagement_partner.partner

    # Read from the row itself (AccessGrant.state): no query per grant.
    @admin.display(description="state")
    def state(self, grant):
        return grant.state.label

    # When it ended, whichever way: `revoked_at` is also the end of a grant that expired.
    @admin.display(description="ended", ordering="revoked_at")
    def ended_at(self, grant):
        return grant.revoked_at

    @admin.action(description="Revoke selected access grants, with a reason…", permissions=["view"])
    def revoke(self, request, queryset):
        if selection_too_large(self, request, queryset):
            return None
        # The selection holds only the grants the user sees: none left, none of those picked was theirs.
        if not queryset.exists():
            self.message_user(
                request, "None of the selected access grants is one you can revoke.", messages.WARNING
            )
            return None
        # Only live access can be cut short: a grant past its end ran out, even before the hourly check
        # records it, and revoking it would say somebody had.
        grants = list(
            selectors.access_grants_in_state(queryset, AccessGrantState.LIVE).select_related(
                "account__customer", "engagement_partner__partner"
            )
        )
        if not grants:
            self.message_user(
                request, "The selected grants have already ended (expired or revoked).", messages.WARNING
            )
            return None
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            revoked = []
            for grant in grants:
                subject = f"{grant.engagement_partner.partner} on {grant.account.account_id}"
                try:
                    services.access_grant_revoke(
                        user=request.user, grant=grant, reason=form.cleaned_data["reason"]
                    )
                except ROW_REFUSALS as error:
                    report_refusal(self, request, subject, error)
                    continue
                revoked.append(subject)
            if revoked:
                self.message_user(request, f"Revoked {len(revoked)}: {'; '.join(revoked)}.", messages.SUCCESS)
            return None
        return action_form_page(
            self,
            request,
            action="revoke",
            title="Revoke access grants",
            intro="These partners lose the roles at once; the reason is recorded and shown to them.",
            objects=grants,
            describe=lambda g: (
                f"{g.engagement_partner.partner}: {g.role_arn} ({g.get_scope_display().lower()})"
            ),
            form=form,
            submit_label="Revoke",
        )


class TeamMemberAddForm(forms.ModelForm):
    """Adding a member is team_member_add: what it would refuse is said on the form."""

    acting_user = None  # the person adding (`user` is the member), set by the admin for each request

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("engagement") is not None and cleaned.get("role"):
            _team_member_problem(self, self.acting_user, cleaned["engagement"], cleaned)
        return cleaned


class TeamMemberChangeForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        _team_member_rejoin_problem(self, cleaned)
        return cleaned


@admin.register(TeamMember)
class TeamMemberAdmin(AddsThroughServiceMixin, ScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin):
    visible_to = staticmethod(
        lambda user: TeamMember.objects.filter(
            engagement__in=selectors.engagements_visible_to(user).values("pk")
        )
    )
    may_change = staticmethod(
        lambda user, member: selectors.user_can_work_on_engagement(user, member.engagement)
    )
    list_display = ("__str__", "engagement", "role", "joined_on", "left_on")
    list_select_related = ("user", "engagement__customer")
    list_filter = ("role",)
    search_fields = ("name", "email", "user__username", "user__last_name", "engagement__title")
    autocomplete_fields = ("engagement", "user")
    ordering = ("-joined_on", "-id")

    def get_readonly_fields(self, request, obj=None):
        return TEAM_MEMBER_IDENTITY if obj is not None else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = type("TeamMemberAddForm", (TeamMemberAddForm,), {"acting_user": request.user})
        else:
            kwargs["form"] = TeamMemberChangeForm
        return super().get_form(request, obj, change, **kwargs)


class ProfessionalServicesAddForm(forms.ModelForm):
    """Adding Professional Services is professional_services_add: what it would refuse is said on the
    form."""

    user = None  # the person adding them, set by the admin for each request

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("engagement") is not None:
            _professional_services_problem(self, self.user, cleaned["engagement"], cleaned)
        return cleaned


class ProfessionalServicesChangeForm(forms.ModelForm):
    """Changing Professional Services is professional_services_update: what it would refuse is said on the
    form."""

    user = None  # the person changing them, set by the admin for each request

    def clean(self):
        cleaned = super().clean()
        if self.has_changed():
            _professional_services_change_problem(self, self.user, cleaned)
        return cleaned


@admin.register(ProfessionalServicesEngagement)
class ProfessionalServicesEngagementAdmin(
    AddsThroughServiceMixin, ScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin
):
    visible_to = staticmethod(
        lambda user: ProfessionalServicesEngagement.objects.filter(
            engagement__in=selectors.engagements_visible_to(user).values("pk")
        )
    )
    may_change = staticmethod(
        lambda user, services_bought: selectors.user_can_manage_engagement(user, services_bought.engagement)
    )
    list_display = ("engagement", "bought_by", "buying_partner", "consultant", "starts_on", "ends_on")
    list_select_related = ("engagement__customer", "buying_partner", "consultant")
    list_filter = ("bought_by", "starts_on")
    search_fields = ("engagement__title", "goal", "capability_gap", "buying_partner__name")
    autocomplete_fields = ("engagement", "buying_partner", "consultant")
    ordering = ("-starts_on", "-id")

    def get_readonly_fields(self, request, obj=None):
        return PROFESSIONAL_SERVICES_BUYING if obj is not None else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = ProfessionalServicesAddForm if obj is None else ProfessionalServicesChangeForm
        kwargs["form"] = type(base.__name__, (base,), {"user": request.user})
        return super().get_form(request, obj, change, **kwargs)


@admin.register(MarketplaceSubscription)
class MarketplaceSubscriptionAdmin(
    AddsThroughServiceMixin, ScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin
):
    form = MarketplaceSubscriptionAdminForm
    visible_to = staticmethod(
        lambda user: MarketplaceSubscription.objects.filter(
            engagement__in=selectors.engagements_visible_to(user).values("pk")
        )
    )
    may_change = staticmethod(
        lambda user, subscription: selectors.user_can_work_on_engagement(user, subscription.engagement)
    )
    list_display = ("product", "vendor", "engagement", "subscribed_on")
    list_select_related = ("vendor", "engagement__customer")
    list_filter = ("subscribed_on",)
    search_fields = ("product", "vendor__name", "engagement__title")
    autocomplete_fields = ("engagement", "vendor", "accounts")
    ordering = ("-subscribed_on", "-id")
    # The service records who subscribed; a choice here would list every user, other customers' people too.
    readonly_fields = ("subscribed_by",)

    def get_readonly_fields(self, request, obj=None):
        # A subscription stays its engagement's: another one's would take it with its accounts.
        return ("engagement", *self.readonly_fields) if obj is not None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = type("MarketplaceSubscriptionAdminForm", (self.form,), {"user": request.user})
        return super().get_form(request, obj, change, **kwargs)


@admin.register(EngagementStageEvent)
class EngagementStageEventAdmin(
    DeletedOnlyWithParentMixin, ScopedAdminMixin, LargeTableAdminMixin, admin.ModelAdmin
):
    """The journey's dates, read-only: stages advance through the engagement's action, and go only with
    their engagement."""

    visible_to = staticmethod(
        lambda user: EngagementStageEvent.objects.filter(
            engagement__in=selectors.engagements_visible_to(user).values("pk")
        )
    )
    list_display = ("engagement", "stage", "reached_on", "recorded_by")
    list_select_related = ("engagement__customer", "recorded_by")
    list_filter = ("stage", "reached_on")
    search_fields = ("engagement__title", "engagement__customer__name")
    ordering = ("-reached_on", "-id")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in EngagementStageEvent._meta.fields]

    def has_add_permission(self, request):
        return False
