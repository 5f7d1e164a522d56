def user_is_signed_in(user) -> bool:
    """A real, active account: anonymous visitors and deactivated users are neither."""
    return bool(user and user.is_authenticated and user.is_active)
