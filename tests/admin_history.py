"""A record's history in the Django admin, for tests of who changed what: editing the record on its change
page, opening its history page and reading the changes that page lists."""

from django.urls import reverse


def admin_url(record, view: str) -> str:
    """The admin's `view` page ("change", "history") of `record`."""
    return reverse(f"admin:{record._meta.app_label}_{record._meta.model_name}_{view}", args=[record.pk])


def history_page(client, record):
    """`record`'s history page in the admin, and insist that it opened."""
    response = client.get(admin_url(record, "history"))
    assert response.status_code == 200
    return response


def changes_shown(response) -> list[tuple]:
    """(who, field, old, new) for every change the history page lists, newest first."""
    return [
        (record.history_user, change["field"], str(change["old"]), str(change["new"]))
        for record in response.context["page_obj"]
        for change in getattr(record, "history_delta_changes", [])
    ]


def edit_in_admin(client, record, form_data, **changes):
    """Post `record`'s change page back as `form_data(client, url)` reads it, with `changes` made, and insist
    that it saved."""
    url = admin_url(record, "change")
    response = client.post(url, form_data(client, url) | changes)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
