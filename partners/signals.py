"""What a partner's records tell each other when they change, apart from the search entries
(partners.search_signals).

- A record that can move to another partner (an office, a person, a certification, a reference, an
  enrollment: the admin lets a PDM correct who it belongs to) remembers whose it was before the save, so
  the receivers bring both partners up to date (`moved_from`).
- A change to a partner's tags, or to a tag or a tier, also brings the partners' search entries up to
  date (the other records' search receivers are in partners.search_signals). Deleting a tag takes it off
  its partners with a plain DELETE of the link rows, which sends no m2m_changed: its own delete
  receivers do it instead, and write each partner's version (who deleted which tag), which no save does.
- A partner's `updated_at` is what integrators sync on (`updated_since`), and the partner resource nests
  its offices and its tier (name, slug, rank) and names its tags: changing those changes the partner.
  Tier changes (their two tiers) and programs (their minimum tier) nest a tier the same way: renaming a
  tier changes them too. An enrollment names its program by slug: renaming the program changes it.
  Every record that names a partner by its slug, in any app's API (its people, certifications,
  references, leads, tier changes here; through `partner_slug_changed`, engagements, their partners,
  access grants, resold accounts, support subscriptions and cases), changes when the partner's slug
  does.
  Publishing a partner shows everybody its approved enrollments and public references: they change for
  the integrators who see them from then on (`partners_published_touch`). An approved enrollment's
  `revocation_due_on` follows its partner's tier, its program's minimum tier and that tier's rank and
  grace period: a change of one changes the enrollments whose day it may set, move or clear
  (`enrollments_revocation_touch`; the tier change services call `enrollments_tier_changes_touch`).
  Each receiver below is one UPDATE of the rows concerned, in the transaction of the change, that
  sends no signal (so no second search refresh and no history row). A use case that changes a partner
  and several of its records at once (an edit of its tags and offices) runs under
  `partner_changes_batched`: the partners are then touched once, at its end, and not at all when the
  partner's own save in the block already moved its `updated_at`.

Bulk writes (bulk_create, QuerySet.update, the demo seeding's COPY) send no signals: whoever makes them on
existing partners sets their `updated_at` too.
"""

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import Signal
from django.utils import timezone
from django.utils.text import capfirst

from apn_portal.signals import stored_values, stored_values_changed, stored_values_remember
from partners.choices import EnrollmentStatus
from partners.models import (
    Certification,
    ConsultingCategory,
    ContactRequest,
    CustomerReference,
    Industry,
    Office,
    Partner,
    Program,
    ProgramEnrollment,
    StaffMember,
    Tier,
    TierChange,
    TierRequirement,
    UseCase,
)
from partners.search_index import (
    partner_search_refresh,
    partner_search_refresh_batched,
    search_index_available,
)
from partners.selectors import enrollment_minimum_rank, enrollments_short_of_minimum_tier
from partners.selectors_visibility import enrollments_visible_to, references_visible_to

DISPATCH_PREFIX = "partners.signals:"

# Per model, the column that ties a record to its owner: its partner, or a certification's person.
MOVABLE = {
    Office: "partner_id",
    ProgramEnrollment: "partner_id",
    CustomerReference: "partner_id",
    StaffMember: "partner_id",
    Certification: "staff_member_id",
}


def deletion_of(origin, model) -> bool:
    """Whether a deletion whose `origin` a post_delete receiver gets is the deletion of `model` rows, so
    the row at hand goes by cascade: a receiver writing to its owner would do work that deletion undoes
    or redoes."""
    return isinstance(origin, model) or (isinstance(origin, QuerySet) and origin.model is model)


def _remember_owner(sender, instance, raw=False, update_fields=None, **kwargs):
    stored_values_remember(sender, instance, (MOVABLE[sender],), raw, update_fields)


def moved_from(instance) -> int | None:
    """The owner (partner id; for a certification, staff member id) that the save being signalled took
    the record from, or None if the record stayed where it was."""
    column = MOVABLE[type(instance)]
    if not stored_values_changed(instance, (column,)):
        return None
    return stored_values(instance, (column,))[column]


@dataclass
class _TouchBatch:
    touched: set[int] = field(default_factory=set)  # the partners the changes in the block concern
    saved: set[int] = field(default_factory=set)  # those whose own save in the block moved `updated_at`


# The touches of the open `partner_changes_batched` block, None outside one.
_touches: ContextVar[_TouchBatch | None] = ContextVar("partners_touch_batched", default=None)


@contextmanager
def partner_changes_batched() -> Iterator[None]:
    """For a use case that saves a partner and changes several of its records (its tags, its offices):
    the signal of each change would move the partner's `updated_at` with an UPDATE of its own and refresh
    its search entry. Inside the block both are collected and made once, at its end; a partner saved in
    the block is not touched again, since its save moved `updated_at` in the same transaction, so an
    integrator syncing on `updated_since` sees the edit either way. Open it inside the use case's
    transaction. A block that raises touches nothing (its transaction is rolled back); inside another
    block, the outer one touches."""
    if _touches.get() is not None:
        yield
        return
    batch = _TouchBatch()
    token = _touches.set(batch)
    try:
        with partner_search_refresh_batched():
            yield
            pending = batch.touched - batch.saved
            if pending:
                Partner.objects.filter(pk__in=sorted(pending)).update(updated_at=timezone.now())
    finally:
        _touches.reset(token)


def partners_touch(partner_ids) -> None:
    """Mark these partners (ids, None ignored, or a queryset of ids) as changed now, for `updated_since`;
    inside `partner_changes_batched`, at its end."""
    batch = _touches.get()
    if batch is not None and not isinstance(partner_ids, QuerySet):
        batch.touched.update(int(pk) for pk in partner_ids if pk is not None)
        return
    # A queryset names every partner of a tier or a tag: it is one statement however many they are.
    Partner.objects.filter(pk__in=partner_ids).update(updated_at=timezone.now())


def partners_published_touch(partner_ids, *, published: bool, at=None) -> None:
    """Move the `updated_at` of what publishing these partners (ids) shows everybody from now on: their
    approved, unexpired enrollments and their public references, which anonymous clients and other
    organisations' tokens list only for a published partner (partners.selectors_visibility). Every path
    that changes `is_published` calls it, in the change's transaction, after the partners are saved.

    Unpublishing moves nothing: records one stops seeing never come in an `updated_since` sync (a walk
    by id notices them, docs/api.md), and those who still see them (the partner's people, the provider's
    staff) see them as they were. One UPDATE per table however many partners and records, no signal, no
    history row: nothing but the timestamps changed."""
    if not published:
        return
    at = at or timezone.now()
    public = AnonymousUser()  # what anybody sees, the rule itself rather than a copy of it
    for records in (enrollments_visible_to(public), references_visible_to(public)):
        records.filter(partner_id__in=partner_ids).update(updated_at=at)


def enrollments_revocation_touch(scope: Q, *, at=None) -> None:
    """Move the `updated_at` of the approved, unexpired enrollments `scope` names: those whose
    `revocation_due_on` a change of what it is worked out from may have set, moved or cleared (the
    partner's tier and its history, the program's minimum tier, that tier's rank and grace period:
    partners.selectors.enrollments_short_of_minimum_tier). Only an approved, unexpired enrollment has
    one. The change's caller calls it in its transaction; one UPDATE however many enrollments, no
    signal, no history row: nothing of the enrollment's own changed."""
    ProgramEnrollment.objects.filter(
        scope, status=EnrollmentStatus.APPROVED, expires_on__gte=timezone.localdate()
    ).update(updated_at=at or timezone.now())


def enrollments_tier_changes_touch(changes: list[TierChange], *, at=None) -> None:
    """`enrollments_revocation_touch` for these tier changes (saved or not): each partner's enrollments in
    the programs whose minimum tier is above the lower of its two tiers, where it is below the minimum
    before the change or after it. A move between two tiers at or above every minimum touches none."""
    by_lower: dict[int, list[int]] = {}
    for change in changes:
        lower = min(change.from_tier.rank, change.to_tier.rank)
        by_lower.setdefault(lower, []).append(change.partner_id)
    if not by_lower:
        return
    # One condition per rank (a ladder has a handful), not per partner, however many partners moved. The
    # minimum is the rung of the partner's own ladder (none there: it is below it whatever its tier).
    scope = Q()
    for lower, partner_ids in by_lower.items():
        scope |= Q(partner_id__in=partner_ids) & (Q(minimum_rank__gt=lower) | Q(minimum_rank__isnull=True))
    concerned = ProgramEnrollment.objects.filter(program__minimum_tier__isnull=False).annotate(
        minimum_rank=enrollment_minimum_rank()
    )
    enrollments_revocation_touch(Q(pk__in=concerned.filter(scope).values("pk")), at=at)


class MinimumTierStanding:
    """Which of these enrollments' partners are below their program's minimum tier, and since when, read
    before a change of what decides it (a rung's rank or slug, a rung added or deleted, a program's
    minimum tier), then `settle`d after it, in its transaction. An enrollment the change left short (not
    short before it) counts its grace period from today, and one short before it keeps its countdown,
    rather than one worked out afresh from tier changes made long before, with the ranks as they are now
    (ProgramEnrollment.minimum_tier_short_from); those whose `revocation_due_on` the change set, moved or
    cleared are touched. Two queries, and an UPDATE for each of the few days kept."""

    def __init__(self, enrollments: QuerySet):
        self.enrollments = enrollments
        self.today = timezone.localdate()
        self.before = {
            item.enrollment.pk: item for item in enrollments_short_of_minimum_tier(enrollments, self.today)
        }

    def settle(self) -> None:
        kept: dict[datetime.date, list[int]] = {}
        due_after = {}
        for item in enrollments_short_of_minimum_tier(self.enrollments, self.today):
            enrollment, since = item.enrollment, item.short_since
            was = self.before.get(enrollment.pk)
            floor = was.short_since if was else self.today
            if since < floor:
                kept.setdefault(floor, []).append(enrollment.pk)
                since = floor
            revoke_on = since + datetime.timedelta(days=enrollment.program.minimum_tier.grace_period_days)
            due_after[enrollment.pk] = None if revoke_on > enrollment.expires_on else revoke_on
        for floor, ids in kept.items():
            ProgramEnrollment.objects.filter(pk__in=ids).update(minimum_tier_short_from=floor)
        due_before = {pk: item.revoke_on for pk, item in self.before.items()}
        moved = [
            pk
            for pk in due_before.keys() | due_after.keys()
            if pk not in due_before or pk not in due_after or due_before[pk] != due_after[pk]
        ]
        if moved:
            enrollments_revocation_touch(Q(pk__in=moved))


_STANDING = "_minimum_tier_standing"


def _standing_read(instance, enrollments: QuerySet) -> None:
    instance.__dict__[_STANDING] = MinimumTierStanding(enrollments)


def _standing_settle(instance) -> None:
    standing = instance.__dict__.pop(_STANDING, None)
    if standing is not None:
        standing.settle()


# What a partner's save compares with its stored row: its slug, which other records show, and whether it
# is published, which decides who sees some of them.
PARTNER_STORED = ("slug", "is_published")


def _partner_saving(sender, instance, raw=False, update_fields=None, **kwargs):
    stored_values_remember(sender, instance, PARTNER_STORED, raw, update_fields)


def _partner_saved(sender, instance, raw=False, update_fields=None, **kwargs):
    batch = _touches.get()
    if batch is not None and not raw and (update_fields is None or "updated_at" in update_fields):
        batch.saved.add(instance.pk)
    stored = stored_values(instance, PARTNER_STORED)  # None when created or loaded raw
    if stored is None:
        return
    if stored["slug"] != instance.slug:
        _partner_slug_shown_elsewhere_changed(instance.pk)
    if stored["is_published"] != instance.is_published:
        partners_published_touch([instance.pk], published=instance.is_published)


# Sent in the rename's transaction when a partner's slug changes, with `partner_id` and `at`: the apps
# built on this one (engagements, support) move the `updated_at` of their records that show the slug.
partner_slug_changed = Signal()


def _partner_slug_shown_elsewhere_changed(partner_id: int) -> None:
    # One statement per table however many records name the partner (a large partner has thousands of
    # certifications), in the rename's transaction; none sends a signal or writes a history row.
    now = timezone.now()
    for records in (
        TierChange.objects.filter(partner_id=partner_id),
        ProgramEnrollment.objects.filter(partner_id=partner_id),
        StaffMember.objects.filter(partner_id=partner_id),
        Certification.objects.filter(staff_member__partner_id=partner_id),
        CustomerReference.objects.filter(partner_id=partner_id),
        ContactRequest.objects.filter(partner_id=partner_id),
    ):
        records.update(updated_at=now)
    partner_slug_changed.send(sender=Partner, partner_id=partner_id, at=now)


def _office_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        partners_touch([instance.partner_id, moved_from(instance)])


def _office_deleted(sender, instance, origin=None, **kwargs):
    if not deletion_of(origin, Partner):
        partners_touch([instance.partner_id])


def _partners_changed(partner_ids, *, touch: bool = True) -> None:
    """What a change to a partner's tags or their names means for the partners concerned: their
    `updated_at` moves (when the partner resource shows the change) and their search entries follow."""
    if touch:
        partners_touch(partner_ids)
    if search_index_available():
        partner_search_refresh(partner_ids)


def _tags_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if not reverse:  # partner.industries.add(...) and the like: `instance` is the partner
        if action in ("post_add", "post_remove", "post_clear"):
            _partners_changed([instance.pk])
        return
    # industry.partners.add(...): `instance` is the term, pk_set the partners.
    if action == "pre_clear":
        # After the clear no query can name them, so remember who had the term.
        term_column = sender._meta.get_field(instance._meta.model_name).attname
        instance._partners_cleared = list(
            sender.objects.filter(**{term_column: instance.pk}).values_list("partner_id", flat=True)
        )
    elif action == "post_clear":
        _partners_changed(getattr(instance, "_partners_cleared", []))
    elif action in ("post_add", "post_remove") and pk_set:
        _partners_changed(pk_set)


def _term_saving(sender, instance, raw=False, update_fields=None, **kwargs):
    stored_values_remember(sender, instance, ("slug",), raw, update_fields)


def _term_saved(through, column):
    # Search reads a tag's name; the partner resource names its tags by slug, so only a renamed slug
    # changes the partners with the tag for `updated_since`.
    def receiver(sender, instance, created, raw=False, **kwargs):
        if raw or created:
            return
        _partners_changed(
            through.objects.filter(**{column: instance.pk}).values("partner_id"),
            touch=stored_values_changed(instance, ("slug",)),
        )

    return receiver


_UNTAGGED = "_partners_untagged"


def _term_deleting(through, column):
    # Django removes a deleted tag's link rows without m2m_changed, and once they are gone no query can
    # name its partners: touch them now (one UPDATE over a subquery, in the deletion's transaction, which
    # rolls it back if the deletion fails) and remember them for after the rows are gone.
    def receiver(sender, instance, **kwargs):
        partners = through.objects.filter(**{column: instance.pk}).values("partner_id")
        partners_touch(partners)
        setattr(instance, _UNTAGGED, list(partners.values_list("partner_id", flat=True)))

    return receiver


def _term_deleted(sender, instance, **kwargs):
    partner_ids = instance.__dict__.pop(_UNTAGGED, [])
    if not partner_ids:
        return
    # Imported when called: partners.services builds on this module.
    from partners.services import partner_history_bulk_create

    # The partners lost the tag with no save of theirs: a version of each, without it, says who deleted
    # it (simple-history names the request's user, as for a save; nobody outside a request) and which
    # tag, or the next person to save the partner would be shown as having taken it off.
    partner_history_bulk_create(
        list(Partner.objects.filter(pk__in=partner_ids)),
        reason=f"{capfirst(sender._meta.verbose_name)} {instance.name} deleted"[:100],
    )
    _partners_changed(partner_ids, touch=False)


# What the partner resource shows of its tier (partners.api.serializers.TierBriefSerializer, besides the
# id): an edit of anything else (description, grace period) leaves the partners as integrators have them.
TIER_SHOWN = ("name", "slug", "rank")
# And what an enrollment's revocation_due_on is worked out from: its rank, slug and type say whom it holds
# to a program's minimum (partners.selectors.minimum_tier_rungs).
TIER_STORED = (*TIER_SHOWN, "grace_period_days", "partner_type")


def _tier_saving(sender, instance, raw=False, update_fields=None, **kwargs):
    stored_values_remember(sender, instance, TIER_STORED, raw, update_fields)
    if raw:
        return
    if instance._state.adding:
        # A new rung changes only those held to the minimum of its slug on its ladder, which had none.
        _standing_read(
            instance,
            ProgramEnrollment.objects.filter(
                partner__partner_type=instance.partner_type, program__minimum_tier__slug=instance.slug
            ),
        )
        return
    stored = stored_values(instance, TIER_STORED)
    if stored is None or all(stored[c] == getattr(instance, c) for c in TIER_STORED if c != "name"):
        return
    # A rung's rank or slug moves partners of its own ladder only: those of its type, old and new.
    _standing_read(
        instance,
        ProgramEnrollment.objects.filter(
            Q(partner__partner_type__in={stored["partner_type"], instance.partner_type})
            | Q(program__minimum_tier=instance)
        ),
    )


def _tier_deleting(sender, instance, **kwargs):
    _standing_read(
        instance,
        ProgramEnrollment.objects.filter(
            partner__partner_type=instance.partner_type, program__minimum_tier__slug=instance.slug
        ),
    )


def _tier_deleted(sender, instance, **kwargs):
    _standing_settle(instance)


def _tier_saved(sender, instance, created, raw=False, **kwargs):
    # One statement each however many partners hold the tier (a ladder's entry tier has most of them) or
    # tier changes name it; none sends a signal, so nothing follows per partner.
    if raw:
        return
    _standing_settle(instance)
    if created:
        return
    stored = stored_values(instance, TIER_STORED) or {}
    changed = {column for column, value in stored.items() if value != getattr(instance, column)}
    shown_changed = bool(changed & set(TIER_SHOWN))
    if shown_changed:
        now = timezone.now()
        TierChange.objects.filter(Q(from_tier_id=instance.pk) | Q(to_tier_id=instance.pk)).update(
            updated_at=now
        )
        Program.objects.filter(minimum_tier_id=instance.pk).update(updated_at=now)
    # Entries keep the tier's rank (the cards read its name live).
    _partners_changed(Partner.objects.filter(tier_id=instance.pk).values("pk"), touch=shown_changed)


def _tier_requirement_changed(sender, instance, raw=False, **kwargs):
    # The tier resource nests its requirements: one edited, added or removed on its own admin page (not
    # through the tier's, which saves the tier too) changes the tier for integrators syncing on it.
    if not raw:
        Tier.objects.filter(pk=instance.tier_id).update(updated_at=timezone.now())


# What an enrollment shows of its program: its slug, and the revocation_due_on its minimum tier decides.
PROGRAM_STORED = ("slug", "minimum_tier_id")


def _program_saving(sender, instance, raw=False, update_fields=None, **kwargs):
    stored_values_remember(sender, instance, PROGRAM_STORED, raw, update_fields)
    stored = None if raw else stored_values(instance, PROGRAM_STORED)
    if stored is not None and stored["minimum_tier_id"] != instance.minimum_tier_id:
        _standing_read(instance, ProgramEnrollment.objects.filter(program_id=instance.pk))


def _program_saved(sender, instance, created, raw=False, **kwargs):
    # The enrollment resource names its program by slug (partners.api.serializers.EnrollmentSerializer):
    # one statement however many partners are enrolled.
    stored = None if raw or created else stored_values(instance, PROGRAM_STORED)
    if stored is None:
        return
    _standing_settle(instance)
    if stored["slug"] != instance.slug:
        ProgramEnrollment.objects.filter(program_id=instance.pk).update(updated_at=timezone.now())


# Each tag model, the table linking it to its partners and that table's column naming the tag.
_TERMS = {
    ConsultingCategory: (Partner.categories.through, "consultingcategory_id"),
    Industry: (Partner.industries.through, "industry_id"),
    UseCase: (Partner.use_cases.through, "usecase_id"),
}
# Module-level, since signals hold their receivers by weak reference.
_term_receivers = {
    model: (_term_saved(through, column), _term_deleting(through, column))
    for model, (through, column) in _TERMS.items()
}


def _user_saving(sender, instance, raw=False, update_fields=None, **kwargs):
    stored_values_remember(sender, instance, ("username",), raw, update_fields)


def _user_saved(sender, instance, raw=False, **kwargs):
    # A tier change names who made it by username (partners.api.serializers.TierChangeSerializer): one
    # statement however many changes name the person.
    if not raw and stored_values_changed(instance, ("username",)):
        TierChange.objects.filter(changed_by_id=instance.pk).update(updated_at=timezone.now())


def connect():
    """Called from PartnersConfig.ready()."""
    user = get_user_model()
    pre_save.connect(_user_saving, sender=user, dispatch_uid=DISPATCH_PREFIX + "user-saving")
    post_save.connect(_user_saved, sender=user, dispatch_uid=DISPATCH_PREFIX + "user-saved")
    for model in MOVABLE:
        pre_save.connect(
            _remember_owner, sender=model, dispatch_uid=f"{DISPATCH_PREFIX}owner{model.__name__}"
        )
    pre_save.connect(_partner_saving, sender=Partner, dispatch_uid=DISPATCH_PREFIX + "partner-saving")
    post_save.connect(_partner_saved, sender=Partner, dispatch_uid=DISPATCH_PREFIX + "partner-saved")
    post_save.connect(_office_saved, sender=Office, dispatch_uid=DISPATCH_PREFIX + "office-saved")
    post_delete.connect(_office_deleted, sender=Office, dispatch_uid=DISPATCH_PREFIX + "office-deleted")
    for through in (Partner.categories.through, Partner.industries.through, Partner.use_cases.through):
        m2m_changed.connect(_tags_changed, sender=through, dispatch_uid=f"{DISPATCH_PREFIX}{through}")
    pre_save.connect(_tier_saving, sender=Tier, dispatch_uid=DISPATCH_PREFIX + "tier-saving")
    post_save.connect(_tier_saved, sender=Tier, dispatch_uid=DISPATCH_PREFIX + "tier-saved")
    pre_delete.connect(_tier_deleting, sender=Tier, dispatch_uid=DISPATCH_PREFIX + "tier-deleting")
    post_delete.connect(_tier_deleted, sender=Tier, dispatch_uid=DISPATCH_PREFIX + "tier-deleted")
    for signal, name in ((post_save, "saved"), (post_delete, "deleted")):
        signal.connect(
            _tier_requirement_changed,
            sender=TierRequirement,
            dispatch_uid=f"{DISPATCH_PREFIX}requirement-{name}",
        )
    pre_save.connect(_program_saving, sender=Program, dispatch_uid=DISPATCH_PREFIX + "program-saving")
    post_save.connect(_program_saved, sender=Program, dispatch_uid=DISPATCH_PREFIX + "program-saved")
    for model, (saved, deleting) in _term_receivers.items():
        pre_save.connect(
            _term_saving, sender=model, dispatch_uid=f"{DISPATCH_PREFIX}term-saving{model.__name__}"
        )
        post_save.connect(saved, sender=model, dispatch_uid=f"{DISPATCH_PREFIX}term-saved{model.__name__}")
        pre_delete.connect(
            deleting, sender=model, dispatch_uid=f"{DISPATCH_PREFIX}term-deleting{model.__name__}"
        )
        post_delete.connect(
            _term_deleted, sender=model, dispatch_uid=f"{DISPATCH_PREFIX}term-deleted{model.__name__}"
        )
