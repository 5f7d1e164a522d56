"""What the Django admin's pages post, for tests that change records through them."""


def user_change_data(user, **changes) -> dict:
    """The user admin's change form as the page shows it for a user who is neither staff nor superuser,
    with `changes` made (a change of None leaves the field out, as an unticked box is)."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "partner": user.partner_id or "",
        "customer": user.customer_id or "",
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        **changes,
    }
    return {key: value for key, value in data.items() if value is not None}
