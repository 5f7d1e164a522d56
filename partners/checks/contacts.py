"""Who is told about a partner: its own active staff, and its PDM."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from partners.models import Partner


@dataclass
class PartnerContacts:
    partner_id: int
    name: str
    slug: str
    pdm_email: str = ""
    pdm_name: str = ""
    staff_emails: list[str] = field(default_factory=list)

    @property
    def staff_or_pdm(self) -> list[str]:
        """The partner's staff; when it has nobody signed up yet, its PDM, who passes the news on."""
        return self.staff_emails or ([self.pdm_email] if self.pdm_email else [])

    @property
    def staff_and_pdm(self) -> list[str]:
        return [*self.staff_emails, *([self.pdm_email] if self.pdm_email else [])]


def partner_contacts(partner_ids: Iterable[int]) -> dict[int, PartnerContacts]:
    """Names and addresses for many partners in two queries."""
    partner_ids = list(partner_ids)
    contacts = {
        row["pk"]: PartnerContacts(
            partner_id=row["pk"],
            name=row["name"],
            slug=row["slug"],
            pdm_email=(row["pdm__email"] or "") if row["pdm__is_active"] else "",
            pdm_name=" ".join(filter(None, [row["pdm__first_name"], row["pdm__last_name"]])),
        )
        for row in Partner.objects.filter(pk__in=partner_ids).values(
            "pk", "name", "slug", "pdm__email", "pdm__is_active", "pdm__first_name", "pdm__last_name"
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
