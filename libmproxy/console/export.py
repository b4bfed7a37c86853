"""Exporting a flow: as a curl command, as Python ``requests`` code, as the raw request or
the raw response bytes (the flow view's and the flow list's ``E``).

Every exporter is a pure function of the flow. The two that write code aim to send the
request the flow holds, byte for byte where the tool allows: the same method, URL, header
fields in their order, and the body as it went over the wire (still content-encoded, with
its Content-Encoding header). So they also switch off the headers the tool would add on its
own when the flow did not send them (curl's User-Agent and Accept, requests' Accept and
Connection, urllib3's User-Agent and Accept-Encoding, ...), and leave out Content-Length,
which the tool computes itself, and the headers a client sends only to its proxy
(Proxy-Connection, Proxy-Authorization): the exported request goes to the server directly,
and the proxy never sent those on either. Where the tool does not allow it: requests takes
headers as a dict (repeated fields are folded into one, its own come first), percent-encodes
characters RFC 3986 does not allow in a URL ("[", "{", ...) and removes dot segments.

``export_menu`` asks which export, then copies it to the clipboard when a clipboard tool is
installed for the running display, and otherwise asks for a file to write it to.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from netlib.http import http1

from libmproxy.console.ui import UI
from libmproxy.models import HTTPFlow
from libmproxy.protocol.http1 import HOP_BY_HOP_TO_ORIGIN

__all__ = [
    "curl_command", "python_code", "raw_request", "raw_response", "EXPORTS",
    "clipboard_command", "copy_to_clipboard", "export_menu",
]

# A text body up to this size goes on curl's command line as one argument; a larger one is
# piped in through printf (a shell builtin, so it has no such limit): Linux refuses a single
# argument over 128 KiB (MAX_ARG_STRLEN) with "Argument list too long".
CURL_ARG_BYTES = 64 * 1024

# The headers curl sends unless told not to; "Name:" tells it not to.
CURL_OWN_HEADERS = ("User-Agent", "Accept")
# ... and those it adds only to a request with a body: -d implies a form Content-Type,
# and a body over 1 KiB makes curl wait for "100 Continue".
CURL_BODY_HEADERS = ("Content-Type", "Expect")

# The headers requests sends unless a header maps to None (it merges and drops those) ...
REQUESTS_OWN_HEADERS = ("Accept", "Connection")
# ... and those urllib3 and http.client add below it unless given urllib3's SKIP_HEADER.
URLLIB3_OWN_HEADERS = ("User-Agent", "Accept-Encoding")

# Header fields the tools compute from the body they send, and those meant for the proxy
# alone (what the proxy strips on the way to the server).
_NOT_SENT = {b"content-length", *(name.encode() for name in HOP_BY_HOP_TO_ORIGIN)}

# Bytes that need no escape inside printf's single-quoted format string: printable ASCII
# but the quote itself, the backslash and printf's own "%".
_PRINTF_PLAIN = frozenset(range(0x20, 0x7f)) - {ord("'"), ord("\\"), ord("%")}


def _request(flow: HTTPFlow) -> Any:
    request = getattr(flow, "request", None)  # a TCP flow has none
    if request is None:
        raise ValueError("the flow has no request")
    if request.first_line_format == "authority":
        raise ValueError(f"a {request.method} request opens a tunnel; there is nothing to send")
    if request.raw_content is None:
        raise ValueError("the request body was not kept (it was streamed)")
    return request


def _has(fields: Sequence[tuple[bytes, bytes]], name: str) -> bool:
    wanted = name.lower().encode()
    return any(key.lower() == wanted for key, _ in fields)


def _sent_fields(request: Any) -> list[tuple[str, str]]:
    """The header fields to send, as str (undecodable bytes kept as surrogates)."""
    return [(key.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
            for key, value in request.headers.fields if key.lower() not in _NOT_SENT]


# --- curl ------------------------------------------------------------------------------


def _is_text(body: bytes) -> bool:
    """Whether ``body`` can go inside single quotes as it is: UTF-8 without NUL or other
    control characters (which a terminal or the shell could mangle)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\r\n" for c in text)


def _printf(body: bytes) -> str:
    """A POSIX ``printf`` command that writes exactly ``body``, NUL bytes included: every
    byte outside plain ASCII as a three-digit octal escape."""
    escaped = "".join(chr(b) if b in _PRINTF_PLAIN else f"\\{b:03o}" for b in body)
    return f"printf '{escaped}'"


def _curl_header(name: str, value: str) -> str:
    # "Name:" would remove the header; curl sends an empty one for "Name;".
    return f"{name}: {value}" if value else f"{name};"


def curl_command(flow: HTTPFlow) -> str:
    """A shell command (any POSIX shell) that sends the flow's request with curl."""
    request = _request(flow)
    body = request.raw_content
    fields = request.headers.fields
    args = ["curl"]
    if request.method == "HEAD":
        args.append("--head")  # -X HEAD would wait for a body that never comes
    elif request.method != ("POST" if body else "GET"):
        args += ["-X", request.method]
    for name, value in _sent_fields(request):
        args += ["-H", _curl_header(name, value)]
    missing = CURL_OWN_HEADERS + (CURL_BODY_HEADERS if body else ())
    for name in missing:
        if not _has(fields, name):
            args += ["-H", f"{name}:"]
    if not body and request.method not in ("GET", "HEAD") and _has(fields, "content-length"):
        args += ["-H", "Content-Length: 0"]  # curl sends none without a body
    url = request.url
    if any(c in url for c in "[]{}"):
        args.append("--globoff")  # brackets and braces are curl's URL globbing syntax
    if "/." in request.path:
        args.append("--path-as-is")  # curl would squash "/../" and "/./"
    pipe = ""
    if body:
        if _is_text(body) and len(body) <= CURL_ARG_BYTES:
            args += ["--data-raw", body.decode("utf-8")]
        else:
            pipe = _printf(body) + " | "
            args += ["--data-binary", "@-"]
    args.append(url)
    return pipe + " ".join(shlex.quote(arg) for arg in args)


# --- python requests -------------------------------------------------------------------


def _literal(value: str) -> str:
    """A Python literal for a header name or value: a str when it is plain ASCII (what
    requests sends as it is), else the exact bytes."""
    if value.isascii() and value.isprintable():
        return repr(value)
    return repr(value.encode("utf-8", "surrogateescape"))


def python_code(flow: HTTPFlow) -> str:
    """A Python program that sends the flow's request with ``requests`` and prints the
    response body."""
    request = _request(flow)
    body = request.raw_content
    headers: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for name, value in _sent_fields(request):
        names.setdefault(name.lower(), name)
        headers.setdefault(name.lower(), []).append(value)
    skipped = [name for name in URLLIB3_OWN_HEADERS if name.lower() not in headers]
    lines = ["import requests"]
    if skipped:
        lines.append("from urllib3.util import SKIP_HEADER")
    lines += ["", f"url = {request.url!r}", "headers = {"]
    for key, values in headers.items():
        # requests takes one value per name: repeated fields are folded, as HTTP allows.
        value = ("; " if key == "cookie" else ", ").join(values)
        lines.append(f"    {_literal(names[key])}: {_literal(value)},")
    # The headers the client did not send, so that the libraries do not add theirs.
    lines += [f"    {name!r}: None," for name in REQUESTS_OWN_HEADERS
              if name.lower() not in headers]
    lines += [f"    {name!r}: SKIP_HEADER," for name in skipped]
    lines.append("}")
    arguments = f"{request.method!r}, url, headers=headers"
    if body:
        lines.append(f"data = {body!r}")
        arguments += ", data=data"
    lines += [
        "",
        f"response = requests.request({arguments})",
        "print(response.text)",
    ]
    return "\n".join(lines) + "\n"


# --- raw messages ----------------------------------------------------------------------


def raw_request(flow: HTTPFlow) -> bytes:
    """The request as HTTP/1 bytes: request line, headers, body as on the wire."""
    request = getattr(flow, "request", None)  # a TCP flow has none
    if request is None:
        raise ValueError("the flow has no request")
    if request.raw_content is None:
        raise ValueError("the request body was not kept (it was streamed)")
    return http1.assemble_request(request)


def raw_response(flow: HTTPFlow) -> bytes:
    """The response as HTTP/1 bytes: status line, headers, body as on the wire."""
    response = getattr(flow, "response", None)
    if response is None:
        raise ValueError("the flow has no response")
    if response.raw_content is None:
        raise ValueError("the response body was not kept (it was streamed)")
    return http1.assemble_response(response)


# (what the prompt calls it, its key, the exporter)
EXPORTS: tuple[tuple[str, str, Callable[[HTTPFlow], str | bytes]], ...] = (
    ("curl command", "c", curl_command),
    ("python requests code", "p", python_code),
    ("raw request", "r", raw_request),
    ("raw response", "s", raw_response),
)


# --- where it goes ---------------------------------------------------------------------

# (program, its arguments to copy stdin to the clipboard, the variable naming the display
# it needs, or None). The first one installed whose display is there is used.
CLIPBOARD_TOOLS: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("wl-copy", (), "WAYLAND_DISPLAY"),
    ("xclip", ("-selection", "clipboard"), "DISPLAY"),
    ("xsel", ("--clipboard", "--input"), "DISPLAY"),
    ("pbcopy", (), None),
)

# How long a clipboard tool may take to read what it is given.
CLIPBOARD_TIMEOUT = 5.0


def clipboard_command(env: Mapping[str, str] | None = None) -> list[str] | None:
    """The command that copies its stdin to the clipboard here, or None if there is none."""
    env = os.environ if env is None else env
    for program, arguments, display in CLIPBOARD_TOOLS:
        if display is not None and not env.get(display):
            continue
        path = shutil.which(program, path=env.get("PATH"))
        if path is not None:
            return [path, *arguments]
    return None


def copy_to_clipboard(data: bytes, command: list[str]) -> str | None:
    """Copy ``data`` with ``command``; None on success, else why it failed."""
    try:
        # No pipes for its output: xclip and xsel leave a child running that serves the
        # selection, and waiting for it to close a pipe would wait until it is replaced.
        result = subprocess.run(command, input=data, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=CLIPBOARD_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as e:
        return f"{os.path.basename(command[0])} failed: {e}"
    if result.returncode != 0:
        return f"{os.path.basename(command[0])} failed (exit status {result.returncode})"
    return None


def _as_bytes(exported: str | bytes) -> bytes:
    if isinstance(exported, bytes):
        return exported
    return exported.encode("utf-8", "surrogateescape")  # header bytes that were not UTF-8


def _save(ui: UI, path: str, data: bytes, what: str) -> None:
    path = os.path.expanduser(path.strip())
    if not path:
        return
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        ui.status(f"Could not save the {what}: {e.strerror or e}: {path}")
        return
    ui.status(f"Saved the {what} to {path}")


def _export(ui: UI, flow: HTTPFlow, key: str) -> None:
    for what, export_key, exporter in EXPORTS:
        if export_key == key:
            break
    else:
        return
    try:
        data = _as_bytes(exporter(flow))
    except ValueError as e:
        ui.status(f"Cannot export the {what}: {e}")
        return
    label = f"Save the {what} to file"
    command = clipboard_command()
    if command is not None:
        error = copy_to_clipboard(data, command)
        if error is None:
            ui.status(f"Copied the {what} to the clipboard")
            return
        label = f"{error}; s{label[1:]}"  # the prompt takes the status line: say it there
    ui.prompt(label, lambda path: _save(ui, path, data, what))


def export_menu(ui: UI, flow: HTTPFlow) -> None:
    """Ask which export (curl, python, raw request, raw response) and deliver it."""
    ui.prompt_onekey("Export", [(what, key) for what, key, _ in EXPORTS],
                     lambda key: _export(ui, flow, key))
