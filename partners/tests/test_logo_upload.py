"""A partner's logo is shown on every Find-a-Partner card: only an image every browser shows (PNG, JPEG,
GIF, WebP, by what the file holds), at most 2 MB and 4096 pixels a side. Anything else is a form error
that says so, and nothing is stored."""

import io
import os
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, ImageFile

from partners.models import Partner
from partners.tests.test_admin import change_form_data
from tests.factories import PartnerFactory, PdmFactory

pytestmark = pytest.mark.django_db

TOO_MANY_PIXELS = "The logo is larger than 4096 by 4096 pixels: upload a smaller image."
TOO_BIG = "The logo is larger than 2 MB: upload a smaller image."
NOT_AN_IMAGE = "Upload the logo as a PNG, JPEG, GIF or WebP image; this file is not one, or is damaged."


def image_bytes(size=(40, 20), image_format="PNG", mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "white" if mode != "1" else 1).save(buffer, image_format)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small, valid PNG whose header says it is width by height: what Pillow's decompression-bomb check
    reads (a real one of that size only compresses as well)."""
    data = image_bytes((1, 1), mode="1")
    header = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + header + struct.pack(">I", zlib.crc32(header)) + data[33:]


def noise_png(side: int) -> bytes:
    """A PNG of random pixels: it does not compress, so its bytes grow with its pixels."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def cut_short(image_format: str) -> bytes:
    """The first quarter of an image of random pixels, as an interrupted download leaves it: its header
    says what it is, most of its pixels are missing."""
    buffer = io.BytesIO()
    Image.effect_noise((400, 400), 64).convert("RGB").save(buffer, image_format)
    return buffer.getvalue()[: len(buffer.getvalue()) // 4]


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\nnewpath 0 0 moveto showpage\n"


@pytest.fixture
def pdm():
    return PdmFactory()


@pytest.fixture
def partner(pdm):
    return PartnerFactory(pdm=pdm)


def _stored_logos(settings) -> list[str]:
    folder = settings.MEDIA_ROOT / "partner-logos"
    return sorted(os.listdir(folder)) if folder.exists() else []


def upload_logo(client, pdm, partner, name: str, content: bytes, content_type="image/png"):
    client.force_login(pdm)
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    data = change_form_data(client, url)
    data["logo"] = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(url, data)


def _logo_errors(response) -> list[str]:
    assert response.status_code == 200, "the admin saved the partner"
    return response.context["adminform"].form.errors.get("logo", [])


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("huge.png", image_bytes((8000, 8000), mode="1")),
        ("wide.png", image_bytes((5000, 10), mode="1")),
        # Above Pillow's decompression-bomb warning, and above its error: refused just the same.
        ("bomb.png", png_claiming(13000, 13000)),
        ("bigger-bomb.png", png_claiming(20000, 20000)),
    ],
    ids=["8000x8000", "5000x10", "13000x13000", "20000x20000"],
)
def test_a_logo_with_too_many_pixels_is_refused_and_not_stored(client, settings, pdm, partner, name, content):
    response = upload_logo(client, pdm, partner, name, content)

    assert _logo_errors(response) == [TOO_MANY_PIXELS]
    partner.refresh_from_db()
    assert not partner.logo
    assert _stored_logos(settings) == []


def test_a_logo_of_more_than_2_mb_is_refused_and_not_stored(client, settings, pdm, partner):
    content = noise_png(900)
    assert len(content) > 2 * 1024 * 1024

    response = upload_logo(client, pdm, partner, "photo.png", content)

    assert _logo_errors(response) == [TOO_BIG]
    partner.refresh_from_db()
    assert not partner.logo
    assert _stored_logos(settings) == []


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("logo.eps", EPS, "application/postscript"),
        ("logo.png", EPS, "image/png"),  # the name does not make it a PNG
        ("logo.png", image_bytes(image_format="BMP"), "image/png"),
        ("logo.png", b"this is not an image at all", "image/png"),
        ("logo.png", image_bytes()[:60], "image/png"),  # cut short
        # Cut short in their pixels: a browser would show them broken on every card.
        ("logo.png", cut_short("PNG"), "image/png"),
        ("logo.jpg", cut_short("JPEG"), "image/jpeg"),
        ("logo.gif", cut_short("GIF"), "image/gif"),
        ("logo.webp", cut_short("WEBP"), "image/webp"),
    ],
    ids=[
        "eps",
        "eps-named-png",
        "bmp-named-png",
        "text-named-png",
        "truncated-png",
        "cut-short-png",
        "cut-short-jpeg",
        "cut-short-gif",
        "cut-short-webp",
    ],
)
def test_a_logo_browsers_cannot_show_is_refused_and_not_stored(
    client, settings, pdm, partner, name, content, content_type
):
    response = upload_logo(client, pdm, partner, name, content, content_type)

    assert _logo_errors(response) == [NOT_AN_IMAGE]
    partner.refresh_from_db()
    assert not partner.logo
    assert _stored_logos(settings) == []


def test_pillow_is_not_told_to_accept_images_cut_short():
    # Else loading one would fill in its missing pixels instead of saying it is damaged.
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "GIF", "WEBP"])
def test_the_model_refuses_a_logo_cut_short_outside_the_admin_too(partner, image_format):
    partner.logo = ContentFile(cut_short(image_format), name=f"logo.{image_format.lower()}")
    with pytest.raises(ValidationError) as refusal:
        partner.full_clean()
    assert refusal.value.message_dict["logo"] == [NOT_AN_IMAGE]


@pytest.mark.parametrize(
    ("name", "image_format", "size"),
    [
        ("logo.png", "PNG", (40, 20)),
        ("logo.jpg", "JPEG", (40, 20)),
        ("logo.gif", "GIF", (40, 20)),
        ("logo.webp", "WEBP", (40, 20)),
        ("logo.png", "PNG", (4096, 4096)),
    ],
    ids=["png", "jpeg", "gif", "webp", "4096x4096-png"],
)
def test_a_logo_browsers_show_is_stored(client, settings, pdm, partner, name, image_format, size):
    content = image_bytes(size, image_format, mode="1" if size[0] > 1000 else "RGB")

    response = upload_logo(client, pdm, partner, name, content, f"image/{image_format.lower()}")

    assert response.status_code == 302, _logo_errors(response)
    partner.refresh_from_db()
    assert partner.logo.name.startswith("partner-logos/")
    assert partner.logo.read() == content
    assert _stored_logos(settings) == [os.path.basename(partner.logo.name)]


@pytest.mark.parametrize(
    ("name", "image_format", "stored_as", "content_type"),
    [
        ("logo.pdf", "PNG", "logo.png", "image/png"),
        ("logo.ps", "PNG", "logo.png", "image/png"),
        ("logo.mpg", "JPEG", "logo.jpg", "image/jpeg"),
        ("logo.png", "GIF", "logo.gif", "image/gif"),
        ("Logo.JPEG", "JPEG", "Logo.jpg", "image/jpeg"),
        ("logo", "WEBP", "logo.webp", "image/webp"),
    ],
)
def test_a_logo_is_stored_and_served_as_the_image_it_is_whatever_its_name(
    client, pdm, partner, name, image_format, stored_as, content_type
):
    # Under its own name a PNG called "logo.pdf" would be served as a PDF: a broken document, or a download.
    content = image_bytes(image_format=image_format)

    response = upload_logo(client, pdm, partner, name, content, content_type="application/octet-stream")

    assert response.status_code == 302, _logo_errors(response)
    partner.refresh_from_db()
    assert partner.logo.name == f"partner-logos/{stored_as}"
    served = client.get(partner.logo.url)
    assert served.status_code == 200
    assert served["Content-Type"] == content_type
    assert b"".join(served.streaming_content) == content


def test_the_logo_field_asks_the_browser_for_those_formats_only(client, pdm, partner):
    client.force_login(pdm)
    page = client.get(reverse("admin:partners_partner_change", args=[partner.pk])).content.decode()

    assert 'accept="image/png,image/jpeg,image/gif,image/webp"' in page


def test_editing_a_partner_does_not_read_back_the_logo_it_already_has(client, pdm, partner):
    # Stored before these limits, or gone from storage since: an edit of anything else still saves.
    Partner.objects.filter(pk=partner.pk).update(logo="partner-logos/stored-long-ago.eps")
    client.force_login(pdm)
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    data = change_form_data(client, url) | {"name": "Renamed Ltd"}

    response = client.post(url, data)

    assert response.status_code == 302
    partner.refresh_from_db()
    assert (partner.name, partner.logo.name) == ("Renamed Ltd", "partner-logos/stored-long-ago.eps")


def test_the_model_refuses_such_a_logo_outside_the_admin_too(partner):
    partner.logo = ContentFile(EPS, name="logo.eps")
    with pytest.raises(ValidationError) as refusal:
        partner.full_clean()
    assert refusal.value.message_dict["logo"] == [NOT_AN_IMAGE]

    partner.logo = ContentFile(png_claiming(13000, 13000), name="logo.png")
    with pytest.raises(ValidationError) as refusal:
        partner.full_clean()
    assert refusal.value.message_dict["logo"] == [TOO_MANY_PIXELS]


def test_an_image_pillow_only_warns_about_is_refused_where_warnings_are_not_errors(partner):
    # Production: above Pillow's limit it warns and reads on (the tests make that warning an error).
    partner.logo = ContentFile(png_claiming(13000, 13000), name="logo.png")
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ValidationError) as refusal:
        partner.full_clean()
    assert refusal.value.message_dict["logo"] == [TOO_MANY_PIXELS]
