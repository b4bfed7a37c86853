"""The image view: what Pillow reads from an image's header (format, size, mode, frames)
and its metadata (EXIF tags, PNG text chunks, GIF comments, ...). Pixels are not decoded."""
from __future__ import annotations

import io
import warnings
from typing import Any

from libmproxy.contentviews._base import ContentViewException, View, format_pairs

__all__ = ["ViewImage", "looks_like_image"]

# Metadata values longer than this are shown by their size (an embedded ICC profile or
# thumbnail is not something to read).
METADATA_TEXT_MAX = 200

# How image formats start (for the auto view's sniffing).
_MAGIC = (
    b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00",
    b"MM\x00*", b"\x00\x00\x01\x00",
)


def looks_like_image(data: bytes) -> bool:
    return data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        if len(value) > METADATA_TEXT_MAX:
            return f"({len(value)} bytes)"
        return value.decode("utf-8", "backslashreplace")
    text = str(value)
    return text if len(text) <= METADATA_TEXT_MAX else f"({len(text)} characters)"


class ViewImage(View):
    name = "Image"
    prompt = ("image", "i")
    content_types = ("image/png", "image/jpeg", "image/gif", "image/vnd.microsoft.icon",
                     "image/x-icon", "image/webp", "image/bmp", "image/tiff")

    def __call__(self, data, *, headers=None, query=None, limit=None):
        from PIL import ExifTags, Image  # imported when used: mitmdump starts fast

        try:
            with warnings.catch_warnings():
                # A huge declared size is only a number here: nothing is decoded.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(data))
                exif = image.getexif()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise ContentViewException(f"not an image Pillow reads: {e}") from e
        fields = [
            ("Format", image.format_description or image.format or "unknown"),
            ("Size", f"{image.width} x {image.height} px"),
            ("Mode", image.mode),
        ]
        frames = getattr(image, "n_frames", 1)
        if frames > 1:
            fields.append(("Frames", str(frames)))
        for key, value in image.info.items():
            if key != "exif":  # shown tag by tag below
                fields.append((str(key), _show(value)))
        for tag, value in exif.items():
            fields.append((ExifTags.TAGS.get(tag, f"EXIF tag {tag:#06x}"), _show(value)))
        return f"{image.format or 'Unknown'} image", format_pairs(fields, "header", "text")
