"""Turns every image upside down (a classic prank on an open wifi).

Needs Pillow, the Python imaging library: ``pip install Pillow``. Images are sent on as
PNG; anything Pillow cannot read is left as it was.

Usage: mitmdump -s examples/upsidedownternet.py
"""
import io

from PIL import Image


def response(flow):
    if flow.response.headers.get("content-type", "").startswith("image"):
        try:
            img = Image.open(io.BytesIO(flow.response.content)).rotate(180)
            flipped = io.BytesIO()
            img.save(flipped, "png")
        except (OSError, ValueError):  # not an image after all, or a kind Pillow lacks
            return
        flow.response.content = flipped.getvalue()
        flow.response.headers["content-type"] = "image/png"
