"""Seeding the demo network: users, taxonomy, then partners chunk by chunk, each chunk in one transaction.

Idempotent: a partner is identified by its slug, which depends only on its index, so a second run finds
every partner present and writes nothing; an interrupted run resumes where it stopped.
"""

import time
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.demo import DemoLogin, demo_user_ensure
from apn_portal.accounts.models import User
from apn_portal.accounts.roles import roles_sync
from partners import defaults
from partners.choices import PartnerType, TierChangeSource
from partners.demo import catalogue
from partners.demo.plans import PartnerPlan, PartnerPlanner, ProgramInfo, partner_slug, partner_target
from partners.demo.writing import TableRows, writer_for_connection
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
    UseCase,
)
from partners.search_index import partner_search_refresh
from partners.selectors import tier_evaluate_many

DEFAULT_PARTNERS = 300
DEFAULT_CHUNK_SIZE = 2000


ADMIN = DemoLogin("admin", "apn-demo-admin-2026", "Alex", "Morgan", "superuser: the whole admin")
PDM = DemoLogin("pdm", "apn-demo-pdm-2026", "Priya", "Raman", "Partner Development Manager")
PARTNER_USER = DemoLogin("partner", "apn-demo-partner-2026", "Sam", "Taylor", "a partner's own staff")
DEMO_USERS = (ADMIN, PDM, PARTNER_USER)
# The demo PDM's colleagues, who look after other partners; they cannot sign in.
PDM_COLLEAGUES = (
    ("pdm.diego", "Diego", "Alvarez"),
    ("pdm.mei", "Mei", "Chen"),
    ("pdm.olivia", "Olivia", "Brown"),
)

INITIAL_TIER_REASON = "Qualified at the first evaluation of the demo network."


@dataclass
class SeedReport:
    partners_requested: int
    partners_skipped: int = 0
    created: Counter = field(default_factory=Counter)
    seconds: float = 0.0


@dataclass
class Lookups:
    """Ids the generated rows point at, read once per run."""

    registered_tier: dict[str, int]
    pdm_ids: list[int]
    programs: dict[str, int]
    categories: dict[str, int]
    industries: dict[str, int]
    use_cases: dict[str, int]


def demo_partner_index(partners: int) -> int:
    """The partner the demo partner user works for: a consulting partner looked after by the demo PDM."""
    for index in range(partners):
        partner_type, rank = partner_target(index)
        if partner_type == PartnerType.CONSULTING and rank >= 1 and index % 8 in (0, 1):
            return index
    return 0


def seed_demo_network(
    partners: int = DEFAULT_PARTNERS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = False,
    writer=None,
) -> SeedReport:
    """Seed partners 0 to `partners` - 1 that are not there yet. `writer` defaults to the fastest one
    the database allows (COPY on PostgreSQL, bulk_create elsewhere)."""
    started = time.monotonic()
    report = SeedReport(partners_requested=partners)
    today = timezone.localdate()
    lookups = _prepare(report)
    planner = PartnerPlanner(today, _program_infos(), demo_index=demo_partner_index(partners))
    writer = writer or writer_for_connection()

    def write(plans: list[PartnerPlan]) -> None:
        with transaction.atomic():
            partner_ids = _write_chunk(plans, writer, lookups, report.created)
            _set_qualified_tiers(writer, report.created, partner_ids)
            _record_first_versions(partner_ids)
            # Rows written in bulk bypass the signals that keep Find-a-Partner's index.
            partner_search_refresh(partner_ids)

    # The next chunk is drawn in a second thread while this one is written: the database's share of the
    # work (constraint checks, indexes, evaluation) then overlaps with Python's.
    with (
        tqdm(total=partners, unit="partner", disable=not progress, smoothing=0.1) as bar,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-planner") as planning,
    ):
        pending: tuple[int, Future | None] | None = None  # the previous chunk: its size, its drawing
        for start in range(0, partners, chunk_size):
            indices = range(start, min(start + chunk_size, partners))
            todo = _missing_indices(indices, report)
            drawing = planning.submit(_draw, planner, todo) if todo else None
            if pending is not None:
                _write_drawn(pending, write, bar)
            pending = (len(indices), drawing)
        if pending is not None:
            _write_drawn(pending, write, bar)
    _ensure_partner_user(report, partners)
    if report.created and connection.vendor == "postgresql":
        # Fresh statistics, so the very next query plans (the admin's) see the new row counts. The portal's
        # own tables only: a bare ANALYZE takes the server's shared catalogs too, locked until the
        # transaction ends, which would hold up every other database's ANALYZE on the server meanwhile.
        tables = connection.introspection.django_table_names(only_existing=True)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(connection.ops.quote_name(table) for table in tables)}")
    report.seconds = time.monotonic() - started
    return report


def _draw(planner: PartnerPlanner, indices: list[int]) -> list[PartnerPlan]:
    return [planner.plan(i) for i in indices]


def _write_drawn(pending: tuple[int, Future | None], write, bar) -> None:
    size, drawing = pending
    if drawing is not None:
        write(drawing.result())
    bar.update(size)


def _missing_indices(indices: range, report: SeedReport) -> list[int]:
    slugs = [partner_slug(i) for i in indices]
    existing = set(Partner.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    todo = [i for i, slug in zip(indices, slugs, strict=True) if slug not in existing]
    report.partners_skipped += len(indices) - len(todo)
    return todo


def _prepare(report: SeedReport) -> Lookups:
    with transaction.atomic():
        roles_sync()
        pdms = [_ensure_user(report, PDM, role=StaffRole.PDM)]
        for username, first, last in PDM_COLLEAGUES:
            colleague = DemoLogin(username, "", first, last, "PDM")
            pdms.append(_ensure_user(report, colleague, role=StaffRole.PDM))
        _ensure_user(report, ADMIN, superuser=True)
        return Lookups(
            registered_tier={t.partner_type: t.pk for t in Tier.objects.filter(rank=0)},
            pdm_ids=[u.pk for u in pdms],
            programs=dict(Program.objects.values_list("slug", "pk")),
            categories=_ensure_terms(report, ConsultingCategory, defaults.CONSULTING_CATEGORIES),
            industries=_ensure_terms(report, Industry, catalogue.INDUSTRIES),
            use_cases=_ensure_terms(report, UseCase, catalogue.USE_CASES),
        )


def _ensure_user(report: SeedReport, demo: DemoLogin, **kwargs) -> User:
    user, created = demo_user_ensure(demo, **kwargs)
    if created:
        report.created["users"] += 1
    return user


def _ensure_terms(report: SeedReport, model, terms) -> dict[str, int]:
    """Each (slug, name) term, reusing one a PDM already has under that slug or name."""
    ids = {}
    for slug, name in terms:
        term = model.objects.filter(Q(slug=slug) | Q(name=name)).first()
        if term is None:
            term = model.objects.create(slug=slug, name=name)
            report.created[model._meta.verbose_name_plural] += 1
        ids[slug] = term.pk
    return ids


def _program_infos() -> list[ProgramInfo]:
    return [
        ProgramInfo(
            slug=p.slug,
            partner_type=p.partner_type,
            audit_required=p.audit_required,
            validity_months=p.validity_months,
            minimum_rank=p.minimum_tier.rank if p.minimum_tier else 0,
            qualifies_for_tier=p.qualifies_for_tier,
        )
        for p in Program.objects.select_related("minimum_tier")
    ]


def _write_chunk(plans: list[PartnerPlan], writer, lookups: Lookups, created: Counter) -> list[int]:
    def written(table: TableRows, *, returning_ids=False):
        created[table.model._meta.verbose_name_plural] += len(table)
        if returning_ids:
            return writer.insert_returning_ids(table)
        writer.write(table)
        return None

    partners = TableRows(
        Partner,
        ("name", "slug", "partner_type", "tier_id", "description", "website", "is_published", "pdm_id"),
    )
    for plan in plans:
        partners.add(
            plan.name,
            plan.slug,
            plan.partner_type,
            lookups.registered_tier[plan.partner_type],
            plan.description,
            plan.website,
            plan.is_published,
            lookups.pdm_ids[plan.pdm] if plan.pdm is not None else None,
        )
    partner_ids = written(partners, returning_ids=True)

    staff = TableRows(StaffMember, ("partner_id", "full_name", "email", "job_title"))
    for plan, partner_id in zip(plans, partner_ids, strict=True):
        for person in plan.staff:
            staff.add(partner_id, person.full_name, person.email, person.job_title)
    staff_ids = iter(written(staff, returning_ids=True))
    certifications = TableRows(
        Certification, ("staff_member_id", "name", "level", "credential_id", "earned_on", "expires_on")
    )
    for plan in plans:
        for person in plan.staff:
            staff_id = next(staff_ids)
            for c in person.certifications:
                certifications.add(staff_id, c.name, c.level, c.credential_id, c.earned_on, c.expires_on)
    written(certifications)

    for table in _partner_children(plans, partner_ids, lookups):
        written(table)
    return partner_ids


def _partner_children(plans: list[PartnerPlan], partner_ids: list[int], lookups: Lookups) -> list[TableRows]:
    categories = TableRows(Partner.categories.through, ("partner_id", "consultingcategory_id"))
    industries = TableRows(Partner.industries.through, ("partner_id", "industry_id"))
    use_cases = TableRows(Partner.use_cases.through, ("partner_id", "usecase_id"))
    offices = TableRows(Office, ("partner_id", "country", "city", "latitude", "longitude", "is_headquarters"))
    references = TableRows(
        CustomerReference,
        (
            "partner_id",
            "customer_name",
            "summary",
            "services_used",
            "launched_on",
            "is_validated",
            "validated_by_id",
            "validated_at",
            "is_public",
        ),
    )
    enrollments = TableRows(
        ProgramEnrollment,
        (
            "partner_id",
            "program_id",
            "status",
            "applied_on",
            "audit_date",
            "audit_result",
            "approved_on",
            "approved_by_id",
            "expires_on",
            "status_reason",
        ),
    )
    contacts = TableRows(
        ContactRequest,
        (
            "reference",
            "partner_id",
            "name",
            "email",
            "company",
            "country",
            "message",
            "project_size",
            "timeline",
            "status",
            "decline_reason",
            "responded_at",
            "created_at",
            "updated_at",
        ),
    )
    for plan, partner_id in zip(plans, partner_ids, strict=True):
        # Validations and approvals are signed off by the partner's PDM, or the demo PDM if it has none.
        reviewer_id = lookups.pdm_ids[plan.pdm if plan.pdm is not None else 0]
        for slug in plan.categories:
            categories.add(partner_id, lookups.categories[slug])
        for slug in plan.industries:
            industries.add(partner_id, lookups.industries[slug])
        for slug in plan.use_cases:
            use_cases.add(partner_id, lookups.use_cases[slug])
        for o in plan.offices:
            offices.add(partner_id, o.country, o.city, o.latitude, o.longitude, o.is_headquarters)
        for r in plan.references:
            validated = r.validated_at is not None
            references.add(
                partner_id,
                r.customer_name,
                r.summary,
                r.services_used,
                r.launched_on,
                validated,
                reviewer_id if validated else None,
                r.validated_at,
                r.is_public,
            )
        for e in plan.enrollments:
            enrollments.add(
                partner_id,
                lookups.programs[e.program_slug],
                e.status,
                e.applied_on,
                e.audit_date,
                e.audit_result,
                e.approved_on,
                reviewer_id if e.approved_on else None,
                e.expires_on,
                e.status_reason,
            )
        for c in plan.contacts:
            contacts.add(
                c.reference,
                partner_id,
                c.name,
                c.email,
                c.company,
                c.country,
                c.message,
                c.project_size,
                c.timeline,
                c.status,
                c.decline_reason,
                c.responded_at,
                c.submitted_at,
                c.responded_at or c.submitted_at,
            )
    return [categories, industries, use_cases, offices, references, enrollments, contacts]


def _set_qualified_tiers(writer, created: Counter, partner_ids: list[int]) -> None:
    """Give each new partner the tier its stored evidence qualifies it for, and record the promotion."""
    evaluations = tier_evaluate_many(Partner.objects.filter(pk__in=partner_ids))
    promoted = defaultdict(list)
    for partner_id, evaluation in evaluations.items():
        if evaluation.qualified_tier.pk != evaluation.current_tier.pk:
            promoted[(evaluation.current_tier.pk, evaluation.qualified_tier.pk)].append(partner_id)
    changes = TableRows(
        TierChange,
        ("partner_id", "from_tier_id", "to_tier_id", "reason", "source", "changed_by_id", "changed_at"),
    )
    now = timezone.now()
    for (from_tier_id, to_tier_id), partner_ids in promoted.items():
        Partner.objects.filter(pk__in=partner_ids).update(tier_id=to_tier_id)
        for partner_id in partner_ids:
            changes.add(
                partner_id,
                from_tier_id,
                to_tier_id,
                INITIAL_TIER_REASON,
                TierChangeSource.SCHEDULED_CHECK,
                None,
                now,
            )
    writer.write(changes)
    created[TierChange._meta.verbose_name_plural] += len(changes)


def _record_first_versions(partner_ids: list[int]) -> None:
    """Each new partner's first version (django-simple-history's "Created"), with its tier and tag lists:
    rows written in bulk get none, and the first edit in the admin was then the partner's only version,
    its History page unable to say what the edit changed. Copied inside the database, one statement a
    table (the library's bulk_history_create, reading the partners and writing them back, made a 2,000-
    partner seed a quarter slower); only the partners, whose history the PDMs read: at the benchmark's
    scale versions of their millions of child rows would cost more than they show."""
    if not partner_ids:
        return
    history = Partner.history.model
    quote = connection.ops.quote_name
    ids = ", ".join(["%s"] * len(partner_ids))
    columns = ", ".join(quote(field.column) for field in history.tracked_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(history._meta.db_table)} ({columns}, history_date, history_change_reason,"
            f" history_type, history_user_id) SELECT {columns}, %s, NULL, '+', NULL"
            f" FROM {quote(Partner._meta.db_table)} WHERE id IN ({ids})",
            [timezone.now(), *partner_ids],
        )
        for field in history._history_m2m_fields:
            recorded = getattr(history, field.name).model._meta.db_table
            links = field.remote_field.through._meta.db_table
            other = f"{field.m2m_reverse_field_name()}_id"
            cursor.execute(
                f"INSERT INTO {quote(recorded)} (id, partner_id, {quote(other)}, history_id)"
                f" SELECT link.id, link.partner_id, link.{quote(other)}, version.history_id"
                f" FROM {quote(links)} link JOIN {quote(history._meta.db_table)} version"
                f" ON version.id = link.partner_id WHERE link.partner_id IN ({ids})",
                partner_ids,
            )


def _ensure_partner_user(report: SeedReport, partners: int) -> None:
    if not partners or User.objects.filter(username=PARTNER_USER.username).exists():
        return
    partner = Partner.objects.filter(slug=partner_slug(demo_partner_index(partners))).first()
    if partner is not None:
        _ensure_user(report, PARTNER_USER, partner=partner)
