"""multipart/form-data bodies (RFC 7578) as ``(name, value)`` byte pairs.

Only the field name and content are kept: that is what ``Request.multipart_form`` exposes and
what a user edits. File parts are fields like any other (their filename is not kept).
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from netlib.http.headers import parse_content_type, to_bytes

__all__ = ["decode", "encode"]

# "; name=..." in a Content-Disposition header; the leading ";" keeps "filename=" out.
_FIELD_NAME = re.compile(rb';\s*name=(?:"([^"]*)"|([^;\s]*))', re.IGNORECASE)

# Random bytes in a generated boundary: enough that no field value will contain it.
_BOUNDARY_BYTES = 16

# Characters that cannot appear in a quoted field name, escaped the way browsers do.
_NAME_ESCAPES = {b'"': b"%22", b"\r": b"%0D", b"\n": b"%0A"}


def _field_name(head: bytes) -> bytes | None:
    for line in head.split(b"\r\n"):
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-disposition":
            match = _FIELD_NAME.search(value)
            if match:
                return match.group(1) if match.group(1) is not None else match.group(2)
    return None


def decode(content_type: str, content: bytes) -> list[tuple[bytes, bytes]]:
    """The fields of a multipart/form-data body, in order.

    Raises ValueError naming the problem when the Content-Type is not multipart/form-data
    with a boundary, or the body does not contain that boundary. Parts without a field name
    are skipped.
    """
    parsed = parse_content_type(content_type)
    if parsed is None or parsed[:2] != ("multipart", "form-data"):
        raise ValueError(f"not a multipart/form-data content type: {content_type!r}")
    boundary = parsed[2].get("boundary")
    if not boundary:
        raise ValueError(f"no boundary in content type: {content_type!r}")
    parts = content.split(b"--" + to_bytes(boundary))
    if len(parts) < 2:
        raise ValueError(f"multipart body does not contain its boundary {boundary!r}")
    fields = []
    for part in parts[1:]:
        if part.startswith(b"--"):  # the closing delimiter
            break
        head, separator, body = part.partition(b"\r\n\r\n")
        name = _field_name(head)
        if separator and name is not None:
            fields.append((name, body[:-2] if body.endswith(b"\r\n") else body))
    return fields


def _quote_name(name: bytes) -> bytes:
    for char, escape in _NAME_ESCAPES.items():
        name = name.replace(char, escape)
    return name


def encode(fields: Iterable[tuple[str | bytes, str | bytes]],
           boundary: str | None = None) -> tuple[str, bytes]:
    """A multipart/form-data body for the fields: ``(content_type, body)``.

    ``boundary`` is random unless given (tests pass one to get fixed output).
    """
    boundary = boundary or secrets.token_hex(_BOUNDARY_BYTES)
    delimiter = b"--" + boundary.encode("ascii")
    chunks = []
    for name, value in fields:
        chunks.append(
            delimiter + b"\r\n"
            + b'Content-Disposition: form-data; name="' + _quote_name(to_bytes(name)) + b'"\r\n'
            + b"\r\n" + to_bytes(value) + b"\r\n"
        )
    chunks.append(delimiter + b"--\r\n")
    return f"multipart/form-data; boundary={boundary}", b"".join(chunks)
