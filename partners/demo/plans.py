"""What one demo partner looks like, drawn deterministically from its index alone.

Each partner has its own random stream seeded by its index, so partner 42 is the same whether 300 or
100,000 partners are generated, and a run can skip any partner that already exists without shifting the
others. A partner is drawn against a target rung of its ladder (the mix of targets is fixed per block of
200 indices), with enough people, projects and programs to reach it, give or take: the real tier is then
evaluated from the stored rows, as for any partner.
"""

import datetime
import random
import re
import unicodedata
from dataclasses import dataclass, field

from django.utils.text import slugify

from apn_portal.dates import add_months
from partners import defaults
from partners.choices import AuditResult, ContactRequestStatus, EnrollmentStatus, PartnerType
from partners.demo import catalogue

SEED = 2026

# Share of certifications that expire within the next 90 days, and share already expired.
EXPIRING_SOON_SHARE = 0.10
EXPIRED_SHARE = 0.08
EXPIRING_SOON_DAYS = 90
CERTIFICATION_YEARS = 3

NAME_SPACE = (
    len(catalogue.NAME_FIRST_WORDS) * len(catalogue.NAME_SECOND_WORDS) * len(catalogue.NAME_LAST_WORDS)
)
# Coprime with NAME_SPACE, so index -> name is a bijection that scatters neighbours across the alphabet.
NAME_STRIDE = 7919
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

# Assigned PDM by index modulo 8: 0 is the demo PDM, 1-3 its colleagues, None unassigned.
PDM_BY_RESIDUE = (0, 0, 1, 1, 2, 2, 3, None)


@dataclass(frozen=True, slots=True)
class Profile:
    """How much of everything a partner aiming at one rung gets (inclusive ranges)."""

    staff: tuple[int, int]
    validated_references: tuple[int, int]
    other_references: tuple[int, int]
    enrollments: tuple[int, int]
    extra_offices: tuple[int, int]


PROFILES = {
    (PartnerType.CONSULTING, 0): Profile((2, 7), (0, 2), (0, 0), (0, 3), (0, 1)),
    (PartnerType.CONSULTING, 1): Profile((6, 10), (3, 4), (0, 1), (2, 5), (0, 2)),
    (PartnerType.CONSULTING, 2): Profile((10, 14), (20, 24), (0, 2), (2, 5), (1, 3)),
    (PartnerType.CONSULTING, 3): Profile((36, 44), (50, 56), (0, 3), (4, 7), (3, 7)),
    (PartnerType.TECHNOLOGY, 0): Profile((2, 5), (0, 0), (0, 1), (0, 3), (0, 1)),
    (PartnerType.TECHNOLOGY, 1): Profile((4, 7), (1, 3), (0, 1), (1, 4), (0, 1)),
    (PartnerType.TECHNOLOGY, 2): Profile((5, 8), (5, 8), (0, 1), (1, 4), (0, 2)),
    (PartnerType.TECHNOLOGY, 3): Profile((8, 11), (10, 13), (0, 2), (2, 5), (1, 4)),
}

# Targets for each block of 200 indices: 70% consulting, 30% technology, few at the top of either ladder.
TARGET_BLOCK = (
    [(PartnerType.CONSULTING, 3)] * 2
    + [(PartnerType.CONSULTING, 2)] * 7
    + [(PartnerType.CONSULTING, 1)] * 33
    + [(PartnerType.CONSULTING, 0)] * 98
    + [(PartnerType.TECHNOLOGY, 3)] * 2
    + [(PartnerType.TECHNOLOGY, 2)] * 5
    + [(PartnerType.TECHNOLOGY, 1)] * 17
    + [(PartnerType.TECHNOLOGY, 0)] * 36
)


@dataclass(frozen=True, slots=True)
class ProgramInfo:
    slug: str
    partner_type: str
    audit_required: bool
    validity_months: int
    minimum_rank: int
    qualifies_for_tier: bool


@dataclass(slots=True)
class CertificationPlan:
    name: str
    level: str
    credential_id: str
    earned_on: datetime.date
    expires_on: datetime.date


@dataclass(slots=True)
class StaffPlan:
    full_name: str
    email: str
    job_title: str
    certifications: list[CertificationPlan]


@dataclass(slots=True)
class OfficePlan:
    country: str
    city: str
    latitude: float
    longitude: float
    is_headquarters: bool


@dataclass(slots=True)
class ReferencePlan:
    customer_name: str
    summary: str
    services_used: str
    launched_on: datetime.date
    validated_at: datetime.datetime | None
    is_public: bool


@dataclass(slots=True)
class EnrollmentPlan:
    program_slug: str
    status: str
    applied_on: datetime.date
    audit_date: datetime.date | None = None
    audit_result: str = ""
    approved_on: datetime.date | None = None
    expires_on: datetime.date | None = None
    status_reason: str = ""


@dataclass(slots=True)
class ContactPlan:
    reference: str
    name: str
    email: str
    company: str
    country: str
    message: str
    project_size: str
    timeline: str
    status: str
    decline_reason: str
    submitted_at: datetime.datetime
    responded_at: datetime.datetime | None


@dataclass(slots=True)
class PartnerPlan:
    index: int
    name: str
    slug: str
    partner_type: str
    target_rank: int
    description: str
    website: str
    is_published: bool
    pdm: int | None
    categories: list[str] = field(default_factory=list)
    industries: list[str] = field(default_factory=list)
    use_cases: list[str] = field(default_factory=list)
    offices: list[OfficePlan] = field(default_factory=list)
    staff: list[StaffPlan] = field(default_factory=list)
    references: list[ReferencePlan] = field(default_factory=list)
    enrollments: list[EnrollmentPlan] = field(default_factory=list)
    contacts: list[ContactPlan] = field(default_factory=list)


def partner_target(index: int) -> tuple[str, int]:
    """The (partner type, rung) a partner is drawn against; every 200 consecutive indices hold each mix."""
    return TARGET_BLOCK[(index * 37 + 5) % len(TARGET_BLOCK)]


def partner_core_name(index: int) -> str:
    first, second, last = catalogue.NAME_FIRST_WORDS, catalogue.NAME_SECOND_WORDS, catalogue.NAME_LAST_WORDS
    k = (index * NAME_STRIDE) % NAME_SPACE
    k, a = divmod(k, len(first))
    c, b = divmod(k, len(second))
    name = f"{first[a]} {second[b]} {last[c]}"
    if index >= NAME_SPACE:
        name += f" {index // NAME_SPACE + 1}"
    return name


def partner_slug(index: int) -> str:
    return slugify(partner_core_name(index))


def unique_code(number: int, width: int, salt: int) -> str:
    """A code of `width` letters and digits, distinct for each number below 32**width (a bijection)."""
    space = len(CODE_ALPHABET) ** width
    value = (number * 0x9E3779B1 + salt) % space  # odd multiplier: invertible modulo a power of two
    chars = []
    for _ in range(width):
        value, digit = divmod(value, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[digit])
    return "".join(chars)


def years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def email_local_part(first: str, last: str) -> str:
    def ascii_letters(text):
        folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z]", "", folded.lower())

    return f"{ascii_letters(first)}.{ascii_letters(last)}"


class PartnerPlanner:
    """Draws partner plans for one day (`today`), given the programs that exist."""

    def __init__(self, today: datetime.date, programs: list[ProgramInfo], demo_index: int | None = None):
        self.today = today
        self.demo_index = demo_index  # the partner the demo partner user works for
        self.morning = datetime.datetime.combine(today, datetime.time(9), tzinfo=datetime.UTC)
        self.programs = sorted(programs, key=lambda p: p.slug)
        self.regions = list(catalogue.REGION_WEIGHTS)
        self.region_weights = list(catalogue.REGION_WEIGHTS.values())
        self.certifications_by_level = {}
        for name, level, family in catalogue.CERTIFICATIONS:
            self.certifications_by_level.setdefault(level, []).append((name, level, family))

    def plan(self, index: int) -> PartnerPlan:
        rng = random.Random(SEED * 1_000_003 + index)
        partner_type, target_rank = partner_target(index)
        profile = PROFILES[(partner_type, target_rank)]
        region = rng.choices(self.regions, self.region_weights)[0]
        offices = self._offices(rng, region, rng.randint(*profile.extra_offices))
        hq = offices[0]
        core, slug = partner_core_name(index), partner_slug(index)
        suffix = catalogue.LEGAL_SUFFIXES[hq.country]
        name = f"{suffix} {core}" if suffix == "PT" else f"{core} {suffix}"
        plan = PartnerPlan(
            index=index,
            name=name,
            slug=slug,
            partner_type=partner_type,
            target_rank=target_rank,
            description="",
            website=f"https://www.{slug}.example",
            is_published=rng.random() < (0.75 if target_rank == 0 else 0.95),
            pdm=PDM_BY_RESIDUE[index % len(PDM_BY_RESIDUE)],
            offices=offices,
        )
        plan.industries = rng.sample([s for s, _ in catalogue.INDUSTRIES], rng.randint(1, 3))
        plan.use_cases = rng.sample(
            [s for s, _ in catalogue.USE_CASES], rng.randint(1, 2 + min(target_rank, 2))
        )
        plan.staff = self._staff(rng, index, region, slug, rng.randint(*profile.staff))
        plan.references = self._references(rng, profile)
        plan.enrollments = self._enrollments(
            rng, partner_type, target_rank, rng.randint(*profile.enrollments)
        )
        if partner_type == PartnerType.CONSULTING:
            plan.categories = self._categories(rng, plan.enrollments)
        plan.description = self._description(plan, hq)
        if plan.is_published and rng.random() < 0.12:
            plan.contacts = [self._contact(rng, index, k) for k in range(rng.randint(1, 3))]
        if index == self.demo_index:
            # Whoever signs in as the demo partner finds leads to answer, and one of each answer given.
            statuses = (ContactRequestStatus.NEW,) * 2 + (
                ContactRequestStatus.ACCEPTED,
                ContactRequestStatus.DECLINED,
            )
            plan.contacts = [self._contact(rng, index, k, status) for k, status in enumerate(statuses)]
        return plan

    def _offices(self, rng, region, extra) -> list[OfficePlan]:
        home = catalogue.CITIES_BY_REGION[region]
        everywhere = [city for cities in catalogue.CITIES_BY_REGION.values() for city in cities]
        cities = [rng.choice(home)]
        for _ in range(extra):
            city = rng.choice(home if rng.random() < 0.75 else everywhere)
            if city not in cities:
                cities.append(city)
        return [
            OfficePlan(country, city, lat, lon, is_headquarters=(i == 0))
            for i, (country, city, lat, lon) in enumerate(cities)
        ]

    def _staff(self, rng, index, region, domain_slug, count) -> list[StaffPlan]:
        people, emails, serial = [], set(), 0
        for _ in range(count):
            firsts, lasts = catalogue.PEOPLE_NAMES[
                region if rng.random() < 0.8 else rng.choice(list(catalogue.PEOPLE_NAMES))
            ]
            first, last = rng.choice(firsts), rng.choice(lasts)
            local = email_local_part(first, last)
            email, n = f"{local}@{domain_slug}.example", 1
            while email in emails:
                n += 1
                email = f"{local}{n}@{domain_slug}.example"
            emails.add(email)
            certifications = []
            for name, level, _family in self._person_certifications(rng):
                certifications.append(self._certification(rng, name, level, index, serial))
                serial += 1
            people.append(
                StaffPlan(f"{first} {last}", email, self._job_title(rng, certifications), certifications)
            )
        return people

    def _person_certifications(self, rng):
        held = []
        if rng.random() < 0.55:
            held.append(self.certifications_by_level["foundational"][0 if rng.random() < 0.85 else 1])
        for _ in range(rng.choices((0, 1, 2, 3), (15, 50, 25, 10))[0]):
            level = rng.choices(("associate", "professional", "specialty"), (55, 25, 20))[0]
            certification = rng.choice(self.certifications_by_level[level])
            if certification not in held:
                held.append(certification)
        return held

    def _certification(self, rng, name, level, index, serial) -> CertificationPlan:
        draw = rng.random()
        if draw < EXPIRING_SOON_SHARE:
            expires = self.today + datetime.timedelta(days=rng.randint(1, EXPIRING_SOON_DAYS))
        elif draw < EXPIRING_SOON_SHARE + EXPIRED_SHARE:
            expires = self.today - datetime.timedelta(days=rng.randint(1, 540))
        else:
            expires = self.today + datetime.timedelta(days=rng.randint(EXPIRING_SOON_DAYS + 1, 1090))
        return CertificationPlan(
            name=name,
            level=level,
            credential_id=unique_code(index * 1000 + serial, width=10, salt=0x5EED),
            earned_on=years_before(expires, CERTIFICATION_YEARS),
            expires_on=expires,
        )

    def _job_title(self, rng, certifications: list[CertificationPlan]) -> str:
        families = {name: family for name, _, family in catalogue.CERTIFICATIONS}
        technical = [c for c in certifications if c.level != "foundational"]
        if not technical:
            return rng.choice(catalogue.JOB_TITLES["general"])
        top = max(technical, key=lambda c: c.level != "associate")
        title = rng.choice(catalogue.JOB_TITLES[families[top.name]])
        return f"Senior {title}" if top.level != "associate" and not title.startswith("Principal") else title

    def _references(self, rng, profile) -> list[ReferencePlan]:
        references = []
        validated = rng.randint(*profile.validated_references)
        for i in range(validated + rng.randint(*profile.other_references)):
            launched = self.today - datetime.timedelta(days=rng.randint(20, 1600))
            validated_at = None
            if i < validated:
                day = min(launched + datetime.timedelta(days=rng.randint(5, 60)), self.today)
                validated_at = datetime.datetime.combine(day, datetime.time(10), tzinfo=datetime.UTC)
            summary = rng.choice(catalogue.REFERENCE_SUMMARIES).format(
                n=rng.randint(12, 400), m=rng.randint(2, 9), p=rng.randint(15, 60)
            )
            references.append(
                ReferencePlan(
                    customer_name=f"{rng.choice(catalogue.CUSTOMER_FIRST_WORDS)} "
                    f"{rng.choice(catalogue.CUSTOMER_SECOND_WORDS)}",
                    summary=summary,
                    services_used=", ".join(rng.sample(catalogue.SERVICES, rng.randint(2, 4))),
                    launched_on=launched,
                    validated_at=validated_at,
                    is_public=rng.random() < (0.65 if validated_at else 0.2),
                )
            )
        return references

    def _enrollments(self, rng, partner_type, target_rank, count) -> list[EnrollmentPlan]:
        open_to = [p for p in self.programs if p.partner_type in ("", partner_type)]
        eligible = [p for p in open_to if p.minimum_rank <= max(target_rank, 1)]
        enrollments: list[EnrollmentPlan] = []
        chosen: list[ProgramInfo] = []
        if target_rank == 3:
            # The top rung needs approved programs, one of them qualifying where the ladder asks for it.
            qualifying = [p for p in eligible if p.qualifies_for_tier]
            required = (qualifying[:1] if partner_type == PartnerType.CONSULTING else []) + rng.sample(
                [p for p in eligible if not p.qualifies_for_tier], 2
            )
            chosen = required
            enrollments = [self._enrollment(rng, p, EnrollmentStatus.APPROVED) for p in required]
        others = [p for p in eligible if p not in chosen]
        for program in rng.sample(others, min(max(count - len(chosen), 0), len(others))):
            # Registered partners cannot hold an approved program: they are still on their way in.
            weights = (40, 25, 10, 0, 15, 10) if target_rank == 0 else (10, 12, 8, 40, 20, 10)
            status = rng.choices(
                (
                    EnrollmentStatus.APPLIED,
                    EnrollmentStatus.UNDER_REVIEW,
                    EnrollmentStatus.AUDIT_SCHEDULED,
                    EnrollmentStatus.APPROVED,
                    EnrollmentStatus.EXPIRED,
                    EnrollmentStatus.REVOKED,
                ),
                weights,
            )[0]
            if status == EnrollmentStatus.APPROVED and program.minimum_rank > target_rank:
                status = EnrollmentStatus.UNDER_REVIEW
            if status == EnrollmentStatus.AUDIT_SCHEDULED and not program.audit_required:
                status = EnrollmentStatus.UNDER_REVIEW
            enrollments.append(self._enrollment(rng, program, status))
        return enrollments

    def _enrollment(self, rng, program: ProgramInfo, status) -> EnrollmentPlan:
        today, days = self.today, datetime.timedelta
        if status == EnrollmentStatus.APPLIED:
            return EnrollmentPlan(program.slug, status, today - days(rng.randint(1, 60)))
        if status == EnrollmentStatus.UNDER_REVIEW:
            return EnrollmentPlan(program.slug, status, today - days(rng.randint(15, 120)))
        if status == EnrollmentStatus.AUDIT_SCHEDULED:
            return EnrollmentPlan(
                program.slug,
                status,
                today - days(rng.randint(30, 150)),
                audit_date=today + days(rng.randint(7, 75)),
            )
        if status == EnrollmentStatus.REVOKED and program.audit_required and rng.random() < 0.5:
            audit = today - days(rng.randint(10, 300))
            return EnrollmentPlan(
                program.slug,
                status,
                audit - days(rng.randint(20, 90)),
                audit_date=audit,
                audit_result=AuditResult.FAILED,
                status_reason="Did not pass the third-party audit.",
            )
        if status == EnrollmentStatus.EXPIRED:
            approved = today - days(program.validity_months * 31 + rng.randint(1, 400))
        else:  # approved, or revoked after approval: months are at least 28 days, so still in force
            approved = today - days(rng.randint(10, program.validity_months * 28 - 10))
        plan = EnrollmentPlan(
            program.slug,
            status,
            approved - days(rng.randint(20, 90)),
            approved_on=approved,
            expires_on=add_months(approved, program.validity_months),
        )
        if program.audit_required:
            plan.audit_date = approved - days(rng.randint(7, 15))
            plan.audit_result = AuditResult.PASSED
        if status == EnrollmentStatus.EXPIRED:
            plan.status_reason = "Not renewed before it expired."
        elif status == EnrollmentStatus.REVOKED:
            plan.status_reason = "The partner no longer meets the program's requirements."
        return plan

    def _categories(self, rng, enrollments) -> list[str]:
        slugs = [slug for slug, _ in defaults.CONSULTING_CATEGORIES]
        categories = set(rng.choices(slugs, (40, 15, 10, 20, 15), k=rng.randint(1, 2)))
        if any(e.program_slug == "managed-service-provider" for e in enrollments):
            categories.add("managed-service-provider")
        return sorted(categories)

    def _description(self, plan: PartnerPlan, hq: OfficePlan) -> str:
        industries = dict(catalogue.INDUSTRIES)
        use_cases = dict(catalogue.USE_CASES)
        served = "; ".join(industries[s] for s in plan.industries)
        delivers = ", ".join(use_cases[s].lower() for s in plan.use_cases)
        if plan.partner_type == PartnerType.CONSULTING:
            pitch = (
                f"{plan.name} is a consulting partner headquartered in {hq.city}. It helps its customers "
                f"with {delivers}, from the first workshop to production."
            )
        else:
            pitch = (
                f"{plan.name} builds software products on the cloud, headquartered in {hq.city}. "
                f"Its products cover {delivers}."
            )
        return f"{pitch}\n\nIndustries served: {served}."

    def _contact(self, rng, index, k, status: str | None = None) -> ContactPlan:
        firsts, lasts = catalogue.PEOPLE_NAMES[rng.choice(list(catalogue.PEOPLE_NAMES))]
        first, last = rng.choice(firsts), rng.choice(lasts)
        company = (
            f"{rng.choice(catalogue.CUSTOMER_FIRST_WORDS)} {rng.choice(catalogue.CUSTOMER_SECOND_WORDS)}"
        )
        country = rng.choice(rng.choice(list(catalogue.CITIES_BY_REGION.values())))[0]
        submitted = self.morning - datetime.timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 600))
        drawn = rng.choices(
            (ContactRequestStatus.NEW, ContactRequestStatus.ACCEPTED, ContactRequestStatus.DECLINED),
            (60, 30, 10),
        )[0]
        status = status or drawn
        responded = None
        if status != ContactRequestStatus.NEW:
            responded = min(submitted + datetime.timedelta(hours=rng.randint(1, 72)), self.morning)
        return ContactPlan(
            reference="CR-" + unique_code(index * 16 + k, width=8, salt=0xC0FFEE),
            name=f"{first} {last}",
            email=f"{email_local_part(first, last)}@{slugify(company)}.example",
            company=company,
            country=country,
            message=rng.choice(catalogue.CONTACT_MESSAGES),
            project_size=rng.choice(("small", "medium", "large", "enterprise", "")),
            timeline=rng.choice(("now", "quarter", "half_year", "exploring", "")),
            status=status,
            decline_reason=rng.choice(catalogue.DECLINE_REASONS)
            if status == ContactRequestStatus.DECLINED
            else "",
            submitted_at=submitted,
            responded_at=responded,
        )
