import pytest

from tests.factories import PdmFactory


@pytest.fixture
def pdm(client):
    """A PDM signed in on `client` (a test module that needs one signed out defines its own)."""
    user = PdmFactory()
    client.force_login(user)
    return user
