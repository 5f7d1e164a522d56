"""A partner's logo, uploaded by its PDM, shows on its public profile with DEBUG off as on: the portal
serves the uploads it shows itself, as images only."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "navy").save(buffer, "PNG")
    return buffer.getvalue()


def test_a_logo_on_a_profile_is_served_as_an_image(client, settings):
    assert settings.DEBUG is False
    partner = PartnerFactory(name="Harbor Lights")
    partner.logo.save("harbor.png", SimpleUploadedFile("harbor.png", _png()))

    profile = client.get(f"/partners/{partner.slug}/").content.decode()
    source = re.search(r'<img class="partner-logo[^"]*" src="([^"]+)"', profile).group(1)
    response = client.get(source)

    assert source.startswith("/media/partner-logos/") and response.status_code == 200
    assert response["Content-Type"] == "image/png" and b"".join(response.streaming_content) == _png()
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/media/partner-logos/missing.png",
        "/media/secrets.txt",  # only the uploads the portal shows
        "/media/partner-logos/../secrets.txt",
        "/media/partner-logos/..%2fsecrets.txt",
        "/media/partner-logos/a%00.png",
        "/media/partner-logos/",
    ],
)
def test_nothing_else_under_the_media_root_is_served(client, media_root, path):
    (media_root / "secrets.txt").write_text("not for the web")
    (media_root / "partner-logos").mkdir()

    response = client.get(path)

    assert response.status_code == 404
    assert b"not for the web" not in response.content


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.jpeg", "image/jpeg"),  # as logos were stored before they were named by what they hold
        ("a.gif", "image/gif"),
        ("a.webp", "image/webp"),
        ("A.PNG", "image/png"),
    ],
)
def test_a_logo_is_served_as_the_image_its_name_says(client, media_root, name, content_type):
    (media_root / "partner-logos").mkdir()
    (media_root / "partner-logos" / name).write_bytes(_png())

    response = client.get(f"/media/partner-logos/{name}")

    assert response.status_code == 200 and response["Content-Type"] == content_type


@pytest.mark.parametrize("name", ["a.pdf", "a.ps", "a.mpg", "a.svg", "a.html", "a"])
def test_an_upload_not_named_as_an_image_is_not_served(client, media_root, name):
    (media_root / "partner-logos").mkdir()
    (media_root / "partner-logos" / name).write_bytes(_png())

    assert client.get(f"/media/partner-logos/{name}").status_code == 404


def test_uploads_are_only_read(client, media_root):
    (media_root / "partner-logos").mkdir()
    (media_root / "partner-logos" / "a.png").write_bytes(_png())

    assert client.post("/media/partner-logos/a.png").status_code == 405
    assert client.head("/media/partner-logos/a.png").status_code == 200
