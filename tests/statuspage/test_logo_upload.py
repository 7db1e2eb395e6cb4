"""The status page's logo: PNG, JPEG or WebP only, checked by content, size-limited, stored under
MEDIA_ROOT (never the source tree) and served by `make run`."""

import importlib
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import clear_url_caches

from statuspage import errors
from statuspage.forms import LOGO_MAX_BYTES
from statuspage.models import StatusPageSettings

pytestmark = pytest.mark.django_db

SETTINGS_CHANGE = "/admin/statuspage/statuspagesettings/1/change/"  # the one row, seeded
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


def png() -> bytes:
    """A real 1 by 1 pixel PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def post_logo(admin_client, name: str, content: bytes, content_type: str):
    return admin_client.post(
        SETTINGS_CHANGE,
        {
            "title": "Acme status",
            "brand_colour": "#1f4fd1",
            "text_colour": "#ffffff",
            "logo": SimpleUploadedFile(name, content, content_type=content_type),
        },
    )


@pytest.mark.parametrize(
    ("name", "content", "content_type", "message"),
    [
        ("logo.svg", SVG, "image/svg+xml", errors.LOGO_SVG_REFUSED),
        ("logo.png", SVG, "image/png", errors.LOGO_SVG_REFUSED),  # the name and type lie: the content decides
        ("logo.png", b"<html><script>alert(1)</script></html>", "image/png", errors.LOGO_NOT_AN_IMAGE),
        ("logo.gif", b"GIF89a" + b"\0" * 40, "image/gif", errors.LOGO_NOT_AN_IMAGE),
        ("logo.png", png() + b"\0" * LOGO_MAX_BYTES, "image/png", errors.LOGO_TOO_LARGE.format(limit=512)),
    ],
)
def test_a_logo_that_is_not_a_small_png_jpeg_or_webp_is_refused(
    admin_client, media, name, content, content_type, message
):
    response = post_logo(admin_client, name, content, content_type)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["logo"] == [message]
    assert not StatusPageSettings.objects.get().logo
    assert not any(media.rglob("*"))


@pytest.mark.parametrize(
    ("content", "extension"),
    [(png(), "png"), (b"\xff\xd8\xff\xe0" + b"\0" * 64, "jpg"), (b"RIFF\x24\0\0\0WEBPVP8 " + b"\0" * 40, "webp")],
)
def test_a_logo_is_stored_under_media_root_named_by_its_content(admin_client, media, content, extension):
    response = post_logo(admin_client, "innocent.html", content, "text/html")
    assert response.status_code == 302, response.context["adminform"].form.errors
    logo = StatusPageSettings.objects.get().logo
    assert logo.name.startswith("statuspage/logo") and logo.name.endswith(f".{extension}")
    assert (media / logo.name).read_bytes() == content


@pytest.fixture
def debug_urls(settings):
    """The URLs as `make run` (DEBUG) builds them."""
    import config.urls

    settings.DEBUG = True
    importlib.reload(config.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(config.urls)
    clear_url_caches()


def test_an_uploaded_logo_shows_on_the_status_page_and_is_served_in_make_run(admin_client, media, debug_urls, client):
    post_logo(admin_client, "logo.png", png(), "image/png")
    logo = StatusPageSettings.objects.get().logo

    page = client.get("/status/").content.decode()
    assert f'src="/media/{logo.name}"' in page
    served = client.get(f"/media/{logo.name}")
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == png()


def test_uploads_default_to_var_media_outside_the_source_tree():
    from django.conf import settings

    from config.settings import BASE_DIR, VAR_DIR

    assert settings.MEDIA_ROOT == VAR_DIR / "media"
    assert settings.MEDIA_URL == "/media/"
    assert VAR_DIR == BASE_DIR / "var" or not str(VAR_DIR).startswith(str(BASE_DIR / "statuspage"))
