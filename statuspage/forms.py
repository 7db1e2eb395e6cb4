from django import forms

from statuspage import errors
from statuspage.models import ComponentStatus, StatusPageSettings


class SubscribeForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Email address")


class ComponentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ComponentStatus.choices, label="Status set by responders")


# A header logo 32 px high: anything bigger is a mistake, or an attempt to fill the disk.
LOGO_MAX_BYTES = 512 * 1024
# What the file's first bytes say it is; its name and the browser's content type prove nothing.
IMAGE_SIGNATURES = [(b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg")]


def image_kind(head: bytes) -> str | None:
    """The kind of image the magic bytes say (png, jpg or webp); None for anything else."""
    for signature, kind in IMAGE_SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _looks_like_svg(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<svg", b"<?xml", b"<!doctype svg")) or b"<svg" in text


class StatusPageSettingsForm(forms.ModelForm):
    """The logo is checked by its content: PNG, JPEG or WebP, at most LOGO_MAX_BYTES. It is stored
    under a name with the extension its content has, so it is always served as that image type,
    never as HTML or SVG, whatever it was called."""

    # A logo URL typed without a scheme is taken as https (Django 6's default, said now).
    logo_url = forms.URLField(
        required=False,
        max_length=200,
        assume_scheme="https",
        label="Logo URL",
        help_text=StatusPageSettings._meta.get_field("logo_url").help_text,
    )

    class Meta:
        model = StatusPageSettings
        fields = ["title", "logo_url", "logo", "brand_colour", "text_colour"]

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if not logo or not hasattr(logo, "content_type"):  # empty, or the file already stored
            return logo
        if logo.size > LOGO_MAX_BYTES:
            raise forms.ValidationError(errors.LOGO_TOO_LARGE.format(limit=LOGO_MAX_BYTES // 1024))
        logo.seek(0)
        head = logo.read(512)
        logo.seek(0)
        kind = image_kind(head)
        if kind is None:
            raise forms.ValidationError(errors.LOGO_SVG_REFUSED if _looks_like_svg(head) else errors.LOGO_NOT_AN_IMAGE)
        logo.name = f"logo.{kind}"
        return logo
