"""Files the sandbox page sends as a sample person's (a report, a photo): small but real, so the bot can
download them, the review page can offer them and the Word forms can list them."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw


def pdf(title: str) -> bytes:
    """A one-page PDF saying it is a sample (Pillow writes PDF too)."""
    page = Image.new("RGB", (595, 842), "white")
    ImageDraw.Draw(page).text((60, 80), f"[MAU] {title.encode('ascii', 'replace').decode()}", fill="black")
    buffer = io.BytesIO()
    page.save(buffer, format="PDF")
    return buffer.getvalue()


@functools.cache
def png() -> bytes:
    """A small landscape picture (a sample photo of an initiative)."""
    image = Image.new("RGB", (480, 320), (47, 110, 165))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 200, 440, 280), fill=(240, 180, 41))
    draw.ellipse((320, 40, 400, 120), fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
