"""The pathod/pathoc crafting language: parse a spec, resolve it, serve its bytes.

Typical use, by the server (the client is the same with ``parse_pathoc``)::

    settings = Settings(staticdir="/srv/static", websocket_key=key_of_the_request)
    for spec in parse_pathod("200:b@1k:p50,1"):    # ParseException on bad text
        log = serve(spec, wfile, settings)         # PathodError subclasses on bad specs
        if log["disconnect"]:
            close the connection

API
- ``Settings(is_client=False, staticdir=None, unconstrained_file_access=False,
  request_host=None, websocket_key=None, protocol=None, stop_event=None)``: see settings.py.
- ``parse_pathod(s, use_http2=False, settings=None)``: iterator of ``http.Response`` (or
  ``http2.Response``) and ``websockets.WebsocketFrame``; ``parse_pathoc(s, use_http2=False,
  settings=None)``: iterator of ``http.Request`` (``http2.Request``) and frames, several
  specs separated by whitespace; ``parse_websocket_frame(s)``: frames only. ``x`` repeats
  are expanded (each copy without its ``x``); ``+path`` includes specs from a file in
  ``settings.staticdir``.
- A spec (``msg``): ``msg.spec()`` / ``str(msg)`` canonical text, which parses back to an
  equal spec (equality is by canonical text); ``msg.resolve(settings)`` a new spec with
  every random part fixed and the automatic headers added, which renders the same bytes
  each time (what ``-e`` prints and pathod logs); ``msg.values(settings)`` the byte
  sources of the wire message (``bytes`` or lazy sources with ``len`` and slicing);
  ``msg.length(settings)``; ``msg.preview_safe()`` without pauses; ``msg.actions``,
  ``msg.times``, ``msg.body``, ``msg.headers``, ``msg.get_header(name)``, ``msg.raw``;
  requests: ``method``, ``path``, ``ws``, ``nested_response``; responses: ``code``,
  ``status_code``, ``reason``, ``ws``; HTTP/2 messages: ``stream_id``, ``with_stream_id(n)``.
- ``serve(msg, fp, settings) -> dict``: resolves and writes; actions applied at their
  offsets; a disconnect is *returned* as ``log["disconnect"] is True`` (never raised), a
  pause is cut short by setting ``settings.stop_event`` (then ``log["interrupted"]``); see
  writer.py for the log's keys.
- Errors: ``PathodError`` > ``ParseException`` (``.msg``, ``.s``, ``.col``, ``marked()``),
  ``RenderError``, ``FileAccessDenied``.

Grammar extension: a resolved generated value longer than 16 bytes is written
``@SIZE,TYPE,SEED`` (see values.py), so a resolved spec reproduces even a gigabyte body.
"""
from libpathod.language import http, http2, websockets
from libpathod.language.exceptions import FileAccessDenied, ParseException, PathodError, RenderError
from libpathod.language.parser import parse_pathoc, parse_pathod, parse_websocket_frame
from libpathod.language.settings import Settings
from libpathod.language.writer import serve

__all__ = [
    "Settings", "parse_pathod", "parse_pathoc", "parse_websocket_frame", "serve",
    "PathodError", "ParseException", "RenderError", "FileAccessDenied",
    "http", "http2", "websockets",
]
