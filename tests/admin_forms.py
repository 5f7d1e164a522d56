"""What the Django admin's pages post, for tests that change records through them."""


def user_change_data(user, **changes) -> dict:
    """The user admin's change form as the page shows it for `user`, with `changes` made. An unticked box
    is not sent at all: a change to False (or None) leaves the field out."""
    values = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "partner": user.partner_id or "",
        "customer": user.customer_id or "",
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": [group.pk for group in user.groups.all()],
        "user_permissions": [],
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        **changes,
    }
    return {name: value for name, value in values.items() if value is not False and value is not None}
