"""Who sees what of the partner network, as querysets: the API's object-level permissions.

- Provider staff (and superusers) see everything.
- A partner's own staff see all of their partner's records, and what is public of the others.
- Everybody, signed in or not, sees what is public: published partners, the references their profile
  shows (`references_public`) and their approved, unexpired program enrollments.
Anything else is simply absent from the queryset, so asking for it is a "not found".
"""

import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from partners.choices import EnrollmentStatus
from partners.models import CustomerReference, Partner, PartnerSearchEntry, ProgramEnrollment
from partners.selectors import validated_references


def sees_all_partners(user) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_superuser or user.is_provider_staff))


def own_partner_id(user) -> int | None:
    if user.is_authenticated and user.is_active:
        return user.partner_id
    return None


def sees_private_records_of(user, partner_id: int) -> bool:
    """The partner's own staff and the provider's staff: those `private_to_partner` gives its rows to."""
    return sees_all_partners(user) or (partner_id is not None and own_partner_id(user) == partner_id)


def partners_published() -> QuerySet[Partner]:
    """What the public sees: partners a PDM has published on Find-a-Partner."""
    return Partner.objects.filter(is_published=True)


def partners_visible_to(user, queryset: QuerySet[Partner] | None = None) -> QuerySet[Partner]:
    queryset = Partner.objects.all() if queryset is None else queryset
    if sees_all_partners(user):
        return queryset
    own = own_partner_id(user)
    if own is not None:
        return queryset.filter(Q(is_published=True) | Q(pk=own))
    return queryset.filter(is_published=True)


def search_entries_visible_to(user) -> QuerySet[PartnerSearchEntry]:
    """The Find-a-Partner search entries of the partners `partners_visible_to` gives (PostgreSQL only).

    An entry can lag a moment behind its partner, so whoever lists partners from entries loads the
    partners through `partners_visible_to` as well."""
    entries = PartnerSearchEntry.objects.all()
    if sees_all_partners(user):
        return entries
    own = own_partner_id(user)
    if own is not None:
        return entries.filter(Q(is_published=True) | Q(partner_id=own))
    return entries.filter(is_published=True)


def private_to_partner(queryset: QuerySet, user, partner_path: str = "partner") -> QuerySet:
    """Rows of a partner's private records the user may see: all for provider staff, its own partner's
    for a partner's staff, none for anybody else. `partner_path` leads from the row to its partner."""
    if sees_all_partners(user):
        return queryset
    own = own_partner_id(user)
    if own is not None:
        return queryset.filter(**{f"{partner_path}_id": own})
    return queryset.none()


def enrollments_visible_to(user, queryset: QuerySet[ProgramEnrollment] | None = None):
    """Its own partner's enrollments in any state; of the others, only approved and unexpired ones of
    published partners, as the public profile shows them."""
    queryset = ProgramEnrollment.objects.all() if queryset is None else queryset
    if sees_all_partners(user):
        return queryset
    today = timezone.localdate()
    # The conditions of selectors.active_enrollments, as a Q so they combine with the partner's own.
    public = Q(
        status=EnrollmentStatus.APPROVED,
        approved_on__lte=today,
        expires_on__gte=today,
        partner__is_published=True,
    )
    own = own_partner_id(user)
    return queryset.filter(public | Q(partner_id=own) if own is not None else public)


def references_public(on: datetime.date | None = None) -> QuerySet[CustomerReference]:
    """The references anybody may see of a partner, on its profile, its search card and in the API:
    those the partner made public, among those that count (validated, for a launched project)."""
    return validated_references(on).filter(is_public=True)


def references_visible_to(user, queryset: QuerySet[CustomerReference] | None = None):
    """Its own partner's references, validated or not; of the others, `references_public` of published
    partners."""
    queryset = CustomerReference.objects.all() if queryset is None else queryset
    if sees_all_partners(user):
        return queryset
    # Combined as querysets (one WHERE, no subquery), so the rule stays in references_public.
    public = queryset & references_public().filter(partner__is_published=True)
    own = own_partner_id(user)
    return public | queryset.filter(partner_id=own) if own is not None else public
