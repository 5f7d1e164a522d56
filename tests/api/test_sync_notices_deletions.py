"""How an integrator notices a deletion, as docs/api.md ("Syncing with `updated_since`") tells them: not
through `updated_since` nor a webhook (no event is about a deletion), but by walking the whole list by id,
or by the record's address answering 404."""

import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from apn_portal.webhooks.choices import WebhookEvent
from partners.models import Certification


def _walk(client, url: str) -> list[int]:
    ids, params = [], {"ordering": "id", "page_size": 1000}
    while url:
        page = client.get(url, params).json()
        ids += [row["id"] for row in page["results"]]
        url, params = page["next"], None
    return ids


def test_a_deletion_shows_in_a_walk_by_id_and_nowhere_else(world):
    client = world.client("pdm_a")
    member, certification = world.staff_member_a, world.certification_a
    assert certification.staff_member == member
    since = (timezone.now() - datetime.timedelta(minutes=5)).isoformat()

    assert client.delete(f"/api/v1/staff-members/{member.pk}/").status_code == 204

    # Nothing says so: neither a sync on updated_since nor an event any endpoint could subscribe to.
    changed = client.get("/api/v1/certifications/", {"updated_since": since}).json()["results"]
    assert certification.pk not in [row["id"] for row in changed]
    assert not any("delet" in event.value or "delet" in event.label.lower() for event in WebhookEvent)
    # A walk by id no longer returns the person, nor their certification that went with them.
    assert member.pk not in _walk(client, "/api/v1/staff-members/")
    assert not Certification.objects.filter(pk=certification.pk).exists()
    assert certification.pk not in _walk(client, "/api/v1/certifications/")
    assert client.get(f"/api/v1/certifications/{certification.pk}/").status_code == 404


def test_the_guide_says_how_to_notice_a_deletion_and_offers_no_webhook_for_it():
    guide = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text()
    start = guide.index("Deletions do not show in `updated_since`")
    paragraph = " ".join(guide[start : guide.index("\n\n", start)].split())
    assert "use webhooks" not in paragraph
    assert "no webhook event" in paragraph
    assert "`ordering=id`" in paragraph
    assert "404" in paragraph
