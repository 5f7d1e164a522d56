"""Reads about users: whether one is signed in, and which parts of the site are their own."""

from dataclasses import dataclass

from django.db.models import Count

from apn_portal.accounts.choices import StaffRole
from apn_portal.pages import audience_of
from apn_portal.text import short_list


def pdms():
    """The provider's current Partner Development Managers (User.is_pdm): not somebody who left the
    provider, lost the role or was deactivated, though still in the PDM group."""
    from apn_portal.accounts.models import User, role_holders_condition

    return User.objects.filter(role_holders_condition(StaffRole.PDM))


def role_names_loaded(users):
    """Read the role (group) names of all `users` in one query, into the cache User.has_role reads, so a
    loop asking each of them about their roles costs that one query, however many they are (none when
    every one's are cached already); returns `users`. Whoever they are, so the cost does not depend on
    who is among them."""
    from apn_portal.accounts.models import User

    pending = [user for user in users if not hasattr(user, "_role_names")]
    if not pending:
        return users
    names = {user.pk: set() for user in pending}
    memberships = User.groups.through.objects.filter(user_id__in=names).values_list("user_id", "group__name")
    for user_id, name in memberships:
        names[user_id].add(name)
    for user in pending:
        user._role_names = set(names[user.pk])
    return users


def user_is_signed_in(user) -> bool:
    """A real, active account: anonymous visitors and deactivated users are neither."""
    return bool(user and user.is_authenticated and user.is_active)


@dataclass(frozen=True)
class HomeArea:
    """A part of the signed-in site that is the user's own: where the header and the home page lead."""

    label: str
    url_name: str
    description: str


PARTNER_AREA = HomeArea(
    "Partner area",
    "my:scorecard",
    "Your tier scorecard, contact requests, engagements, support cases and public profile.",
)
CUSTOMER_AREA = HomeArea(
    "My organisation",
    "engagements:organisation",
    "Your accounts and engagements, who can access the accounts, and support.",
)
CUSTOMERS_AREA = HomeArea(
    "My customers", "engagements:customers", "The customers assigned to you, their engagements and support."
)
ENGAGEMENTS_AREA = HomeArea(
    "Engagements", "engagements:engagement-list", "The engagements you work on as a consultant."
)
SUPPORT_CASES_AREA = HomeArea(
    "Support cases", "support:case-list", "The support cases waiting for an answer."
)
DASHBOARD_AREA = HomeArea(
    "Network dashboard",
    "pdm:dashboard",
    "The partner network at a glance: tiers, programs and certifications.",
)
# Provider staff whose work is with the customers assigned to them.
CUSTOMER_FACING_ROLES = (StaffRole.ACCOUNT_MANAGER, StaffRole.SOLUTIONS_ARCHITECT, StaffRole.TAM)


def home_areas_of(user, sections: frozenset[str] | None = None) -> list[HomeArea]:
    """The areas of the site that are this user's own, by whom they work for and, at the provider, by
    the sections of the signed-in area they can use (provider_sections_of, which `sections` is when the
    caller has it already), so the header offers their customers or engagements exactly when the area's
    own navigation does; none for an anonymous visitor. Every one opens for the user (the pages check the
    same audiences, roles and seats)."""
    if not user_is_signed_in(user):
        return []
    audience = audience_of(user)
    if audience == "partner":
        return [PARTNER_AREA]
    if audience == "customer":
        return [CUSTOMER_AREA]
    if audience != "provider":
        return []
    if sections is None:
        sections = provider_sections_of(user)
    areas = []
    if "customers" in sections:
        areas.append(CUSTOMERS_AREA)
    elif "engagements" in sections:
        areas.append(ENGAGEMENTS_AREA)
    # Every customer's cases are a support engineer's own; others reach their customers' from My customers.
    if user.has_role(StaffRole.SUPPORT_ENGINEER):
        areas.append(SUPPORT_CASES_AREA)
    if "dashboard" in sections:
        areas.append(DASHBOARD_AREA)
    return areas


def provider_sections_of(user) -> frozenset[str]:
    """The sections of the signed-in area (templates/_area_nav.html) a provider staff member can find
    something in: "customers", "engagements", "support" (cases) and "dashboard". The customers'
    sections (engagements_visible_to, customers_assigned_to, cases_visible_to) hold what an Account
    Manager, Solutions Architect or TAM looks after, and what a seat on a customer's team opens, which any
    staff may take (Professional Services): so staff with such a role or with no role (the consultants)
    have them, and a Cloud Support Engineer or a PDM only while a seat gives them something there (up to
    two queries, for them alone). A support engineer sees every case; a PDM has the network dashboard."""
    from engagements.selectors import customers_assigned_to, engagements_visible_to

    if not user_is_signed_in(user) or audience_of(user) != "provider":
        return frozenset()
    if user.is_superuser:
        return frozenset({"customers", "engagements", "support", "dashboard"})
    sections = set()
    support_engineer, pdm = user.has_role(StaffRole.SUPPORT_ENGINEER), user.is_pdm
    if support_engineer:
        sections.add("support")
    if pdm:
        sections.add("dashboard")
    looks_after = any(user.has_role(role) for role in CUSTOMER_FACING_ROLES)
    if looks_after or not (support_engineer or pdm) or customers_assigned_to(user).exists():
        sections |= {"customers", "engagements", "support"}
    elif engagements_visible_to(user).exists():  # a consultant on a Professional Services engagement
        sections.add("engagements")
    return frozenset(sections)


# The fields naming somebody in a role rather than for what they did: what stops them going is the
# role's own guard (the leaving problems user_deletion_problems asks first), or a seat or assignment
# Django's deletion names as protected.
_ROLE_FIELDS = {
    ("partners.partner", "pdm"),
    ("engagements.customer", "account_manager"),
    ("engagements.customer", "solutions_architect"),
    ("engagements.customer", "tam"),
    ("support.supportsubscription", "tam"),
    ("engagements.teammember", "user"),
    ("engagements.professionalservicesengagement", "consultant"),
}


def _acted_on_fields():
    """The (model, field) naming a user for what they did (made a tier change, approved an enrollment,
    validated a reference, replied to a case, changed a record the history shows): every field that
    would lose them (SET_NULL) or stop their deletion (PROTECT), but the role fields. The history's
    other copies of a user (DO_NOTHING) only mirror their record's."""
    from django.apps import apps
    from django.db import models

    from apn_portal.accounts.models import User

    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if (
                field.many_to_one
                and field.related_model is User
                and field.remote_field.on_delete in (models.SET_NULL, models.PROTECT)
                and (model._meta.label_lower, field.name) not in _ROLE_FIELDS
            ):
                yield model, field


def user_deletion_problems(users) -> list[str]:
    """Why the people (`users`: a query of them) cannot be deleted, one sentence each, or none: what
    refuses deactivating them (a partner's PDM, a customer's Account Manager, Solutions Architect or
    designated TAM), the webhook endpoints they registered and the customers whose access they
    administer, which would go with them, and their name on what they did here, which deleting would
    leave saying nobody did it (or, for a support case's reply or an access grant, refuse with a list of
    them and no reason). Deactivating them keeps it. One query per field naming what they did."""
    # Imported when called: partners, engagements, support and webhooks build on accounts, not the other
    # way round.
    from apn_portal.webhooks.selectors import webhook_owner_deletion_problems
    from engagements.selectors import access_administrator_deletion_problems, customer_staff_leaving_problems
    from partners.selectors import pdm_leaving_problems
    from support.selectors import tam_leaving_problems

    users = list(users.order_by("username"))
    pks = [user.pk for user in users]
    problems = pdm_leaving_problems(pks) + tam_leaving_problems(pks)
    for user in users:
        problems += customer_staff_leaving_problems(user, ["account_manager", "solutions_architect"])
    # What Django would delete with them unasked: the endpoints they registered (and their delivery logs),
    # and their place among a customer's access administrators.
    problems += webhook_owner_deletion_problems(pks) + access_administrator_deletion_problems(pks)

    # {user: {(singular, plural, field shown): count}}: the history's tables are summed, as one.
    done: dict[int, dict[tuple[str, str, str], int]] = {pk: {} for pk in pks}
    for model, field in _acted_on_fields():
        if field.name == "history_user":
            what = ("change in the history of records", "changes in the history of records", "")
        else:
            opts = model._meta
            what = (opts.verbose_name, opts.verbose_name_plural, f" ({field.verbose_name})")
        counts = (
            model._default_manager.filter(**{f"{field.name}__in": pks})
            .order_by()
            .values_list(field.attname)
            .annotate(count=Count("pk"))
        )
        for pk, count in counts:
            done[pk][what] = done[pk].get(what, 0) + count
    for user in users:
        if not done[user.pk]:
            continue
        did = [
            f"{count} {singular if count == 1 else plural}{shown}"
            for (singular, plural, shown), count in sorted(
                done[user.pk].items(),
                key=lambda item: not item[0][2],  # the history's last
            )
        ]
        problems.append(
            f"{user} is named on what they did here: {short_list(did, 5)}. Deleting them would leave "
            "it saying nobody did it: deactivate them instead (untick Active on their page), which "
            "keeps who did it."
        )
    return problems
