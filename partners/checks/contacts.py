"""Who is told about a partner: its own active staff, and its PDM."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.urls import reverse

from apn_portal.accounts.selectors import pdms
from apn_portal.outbox.services import OutboxEmail
from partners.models import Partner


@dataclass
class PartnerContacts:
    partner_id: int
    name: str
    slug: str
    pdm_email: str = ""
    pdm_name: str = ""
    staff_emails: list[str] = field(default_factory=list)
    admin_path: str = ""

    @property
    def staff_or_pdm(self) -> list[str]:
        """The partner's staff; when it has nobody signed up yet, its PDM, who passes the news on."""
        return self.staff_emails or ([self.pdm_email] if self.pdm_email else [])

    @property
    def staff_and_pdm(self) -> list[str]:
        return [*self.staff_emails, *([self.pdm_email] if self.pdm_email else [])]

    # An email written to the partner's staff links to their pages (/my/...), which a PDM cannot open: told
    # too, or instead, the PDM gets a link of their own, to the partner's admin page ("pdm_path" in the
    # email's context, emails/_for_pdm). Empty when the PDM is not among the recipients.

    @property
    def pdm_path_with_staff(self) -> str:
        """For an email to staff_and_pdm."""
        return self.admin_path if self.pdm_email else ""

    @property
    def pdm_path_instead_of_staff(self) -> str:
        """For an email to staff_or_pdm."""
        return self.admin_path if self.pdm_email and not self.staff_emails else ""


# Stands for the partner's id in the admin path reversed once per partner_contacts() call: reverse() costs
# about 30 µs, and a first certification_expiry run writes some 50,000 emails to PDMs.
_PARTNER_ID = "partner-id"


def partner_contacts(partner_ids: Iterable[int]) -> dict[int, PartnerContacts]:
    """Names and addresses for many partners in two queries."""
    partner_ids = list(partner_ids)
    admin_path = reverse("admin:partners_partner_change", args=[_PARTNER_ID])
    contacts = {
        row["pk"]: PartnerContacts(
            partner_id=row["pk"],
            name=row["name"],
            slug=row["slug"],
            # Only a current PDM: one who left the provider, lost the role or was deactivated is told
            # nothing, as for a partner without one.
            pdm_email=(row["pdm__email"] or "") if row["pdm_is_current"] else "",
            pdm_name=" ".join(filter(None, [row["pdm__first_name"], row["pdm__last_name"]]))
            if row["pdm_is_current"]
            else "",
            admin_path=admin_path.replace(_PARTNER_ID, str(row["pk"])),
        )
        for row in Partner.objects.filter(pk__in=partner_ids).values(
            "pk",
            "name",
            "slug",
            "pdm__email",
            "pdm__first_name",
            "pdm__last_name",
            pdm_is_current=Exists(pdms().filter(pk=OuterRef("pdm_id"))),
        )
    }
    users = (
        get_user_model()
        .objects.filter(partner_id__in=partner_ids, is_active=True)
        .exclude(email="")
        .order_by("partner_id", "email")
        .values_list("partner_id", "email")
    )
    for partner_id, email in users:
        contacts[partner_id].staff_emails.append(email)
    return contacts


def enrollment_emails(enrollments, *, key, subject, template, extra=lambda e: {}) -> list[OutboxEmail]:
    """One email per enrollment (its partner and program loaded) to the partner's staff and PDM, about it:
    `key(enrollment)` its dedupe key, `subject(enrollment, partner_name)`, `extra(enrollment)` more
    context. A partner deleted since its enrollments were read has nobody to tell: left out."""
    contacts = partner_contacts({e.partner_id for e in enrollments}) if enrollments else {}
    emails = []
    for enrollment in enrollments:
        partner = contacts.get(enrollment.partner_id)
        if partner is None:
            continue
        emails.append(
            OutboxEmail(
                dedupe_key=key(enrollment),
                to=partner.staff_and_pdm,
                for_partner=partner.partner_id,
                subject=subject(enrollment, partner.name),
                template=template,
                context={
                    "partner": partner,
                    "enrollment": enrollment,
                    "program": enrollment.program,
                    "scorecard_path": reverse("my:scorecard"),
                    "pdm_path": partner.pdm_path_with_staff,
                    **extra(enrollment),
                },
            )
        )
    return emails
