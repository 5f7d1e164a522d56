"""access_grant_expiry: access ends on time. A grant past its expiry is recorded as expired with the
reason (its partner's contract ended, or it simply ran out), and the customer and the partner are told.
It stays expired for good: revoked means somebody cut the access short (a person, with who and why).

A grant never outlives its partner's contract: access_grant_create caps it at the contract's end, and
on PostgreSQL a trigger refuses a grant past the contract or a contract cut short under a live grant
(migration engagements 0002). So a grant's `expires_at` is when its access ends, whichever came first,
and a grant past it is already not live (engagements.selectors.live_grants) and already reads as expired;
recording it dates the end, frees its role to be granted again, and tells both sides. It runs hourly:
access ends at a moment, not on a day.

A contract that runs out writes nothing either: the same check ends the team seats of the partner's people
once its last day is over in the customer's time zone, on that day (services._partner_seats_end, as when a
contract ends early), unless the partner holds another contract there that is not over. Professional
Services write nothing as they end either: the consultant's seat, which they opened, ends on their last day
in the same way, unless other services of theirs there go on.

Before that, both sides are warned, WARNING_DAYS before the end (access_grants_warn_ending): the partner
so that its engineers' work does not stop unannounced, the customer's access administrators because only
they can grant it again. A grant too short to need a warning gets none as it is made, and a grant whose
end moved since its warning (its customer's time zone changed) is warned of the end it now has.
"""

import datetime

from django.utils import timezone

from apn_portal.checks.registry import scheduled_check
from apn_portal.checks.results import CheckResult, batched
from apn_portal.checks.selectors import check_last_state
from apn_portal.text import plural
from engagements.models import AccessGrant
from engagements.services import (
    access_grants_end_expired,
    access_grants_warn_ending,
    team_seats_end_of_contracts_run_out,
)

BATCH = 500
CHANGE_REASON = "By the scheduled check access_grant_expiry"
# Grants often last weeks or months: a week to arrange a new one, and a last reminder the day before.
WARNING_DAYS = (7, 1)


@scheduled_check(
    "access_grant_expiry",
    order=40,
    description="Access grants past their expiry or their contract's end recorded as expired; customer and "
    "partner warned 7 days and 1 day before, and told; the team seats of partners whose contracts ran out, "
    "and of consultants whose Professional Services did, ended.",
)
def access_grant_expiry_check(*, today: datetime.date) -> CheckResult:
    result = CheckResult()
    ended = AccessGrant.objects.filter(revoked_at__isnull=True, expires_at__lte=timezone.now())
    expired: list[AccessGrant] = []
    emails = 0
    for ids in batched(ended.order_by("pk").values_list("pk", flat=True), BATCH):
        batch, told = access_grants_end_expired(
            AccessGrant.objects.filter(pk__in=ids), noticed_by="scheduled check", change_reason=CHANGE_REASON
        )
        expired.extend(batch)
        emails += told
    result.add("grants_expired", len(expired))
    result.add("emails", emails)
    if expired:
        customers = len({grant.account.customer_id for grant in expired})
        result.note(
            f"Recorded {plural(len(expired), 'access grant')} as expired (its end or its contract's last "
            f"day passed), for {plural(customers, 'customer')}."
        )
    # A contract running out writes nothing: its partner's people leave the team when its last day is over,
    # and a consultant when their Professional Services' is.
    seats, consultant_seats = team_seats_end_of_contracts_run_out()
    if seats:
        result.add("team_seats_ended", seats)
        result.note(f"Ended {plural(seats, 'team seat')} of partners whose contracts ran out.")
    if consultant_seats:
        result.add("consultant_seats_ended", consultant_seats)
        result.note(f"Ended {plural(consultant_seats, 'team seat')} of consultants whose services ran out.")
    # A warning with nobody to send it to (nobody at the partner or the customer) stores nothing, so it
    # is due again next hour: the last run's list lets the operator read it as a warning once, not hourly.
    warned, warnings, nobody_to_warn = access_grants_warn_ending(
        days=WARNING_DAYS, logged=check_last_state("access_grant_expiry").get("nobody_to_warn", [])
    )
    if nobody_to_warn:
        result.state = {"nobody_to_warn": sorted(nobody_to_warn)}
    if warnings:
        result.add("grants_warned", warned)
        result.add("warning_emails", warnings)
        result.note(
            f"Warned of {plural(warned, 'access grant')} ending within {max(WARNING_DAYS)} days "
            f"({plural(warnings, 'email')})."
        )
    return result
