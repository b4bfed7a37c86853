"""Flows straight to flow-file bytes, without building their state dicts first.

mitmdump ``-w`` encodes every completed flow (on the "flow writer" thread); going through
``flow.get_state()`` and ``tnetstring.dumps`` builds a dict per object and then walks it
with a type dispatch per value, about 80 us for a small HTTP flow, which is most of what
recording costs the proxy. ``encode_flow`` reads the models directly and returns exactly
the bytes of ``tnetstring.dumps(flow.get_state())``.

One layout, not two: what an object saves, and in what order, comes from the tables its
``get_state`` reads (``_stateobject_attributes`` and ``Flow._state_constants``; a message's
data ``__slots__`` with ``_omitted_when_none``, and ``_extra_state``; a multidict's
``fields``; an address's ``_state_fields``). ``_spec`` turns those tables into one spec per
class. An object whose ``get_state`` is not one of those is encoded from its
``get_state()`` (TCP messages, certificates, WebSocket flows, whose get_state refuses), and
so is a flow carrying a backup (the rare modified flow) or an object with a ``get_state``
of its own. test_flow_encode checks the bytes against ``dumps(get_state())``.

Two walkers read the specs:
- ``netlib._tnetstring`` (C, built by setup.py when a compiler is there): about 9 us for a
  small HTTP flow, a fifth of it in float repr. What it has no spec for comes back to
  ``_fallback``, the Python walker (certificates, TCP messages).
- the Python walker here (``encode_value``): about 35 us. It encodes what the C walker
  refuses (a byte string over ``COPY_LIMIT``: it writes a large body with one copy), and
  everything when the C module is not built.
"""
from __future__ import annotations

import collections.abc
from operator import attrgetter
from typing import Any, Callable

from netlib import tnetstring
from netlib.certutils import SSLCert
from netlib.http.message import Message, MessageData
from netlib.multidict import _MultiDict
from netlib.tcp.address import Address
from netlib.tnetstring import COPY_LIMIT, encode_leaf

from libmproxy.models.flow import Flow
from libmproxy.models.http import HTTPRequest
from libmproxy.stateobject import StateObject

try:
    from netlib import _tnetstring
except ImportError:  # built without a C compiler: the Python walker does everything
    _tnetstring = None

__all__ = ["encode_flow", "encode_value"]

# Appends the encoding of a value to a list of output pieces; returns its size in bytes.
Encoder = Callable[[Any, list], int]

# A class's saved layout, as the C walker reads it (see netlib/_tnetstring.c):
# (getter, encoded keys or None, optional flags or None, tail, guard or None).
Spec = tuple

# Bounds of the Python walker's caches of repeated encodings: a proxy's working set of
# header fields, addresses and certificates is a few hundred; a cache is emptied when
# full, so memory stays flat whatever the traffic. Larger header fields (cookies, tokens)
# rarely repeat and are not kept.
MAX_CACHED = 4096
MAX_CACHED_SIZE = 512

# A multidict's spec reads its fields.
_FIELDS = attrgetter("fields")

# type -> its spec, for both walkers; built on first use.
_specs: dict[type, Spec] = {}
# type -> its Python encoder, built on first use.
_encoders: dict[type, Encoder] = {}
# header field (name, value) -> its encoding as a two-item list.
_fields: dict[tuple, bytes] = {}
# (type, attribute values, their types) of an address or certificate -> its encoding.
_values: dict[tuple, bytes] = {}


def encode_flow(flow: Flow) -> bytes:
    """``tnetstring.dumps(flow.get_state())``, computed without the state.

    Raises what that would raise: TypeError for a value the format cannot carry, and
    the flow's own refusal (FlowWriteException for a WebSocket flow).
    """
    if _tnetstring is not None:
        try:
            return _tnetstring.encode(flow, _specs, _fallback)
        except _tnetstring.LargeValue:
            pass
    return _fallback(flow)


def _fallback(value: Any) -> bytes:
    """The Python walker's encoding of ``value``: what the C walker has no spec for (yet),
    what a spec's guard refused, and whatever the C walker leaves to it."""
    out: list[bytes] = []
    encode_value(value, out)
    return b"".join(out)


def encode_value(value: Any, out: list) -> int:
    """Append the encoding of ``value`` (a model object or a plain value) to ``out``;
    return its size in bytes."""
    encoder = _encoders.get(type(value))
    if encoder is None:
        encoder = _encoders.setdefault(type(value), _make_encoder(type(value)))
    return encoder(value, out)


def _make_encoder(cls: type) -> Encoder:
    spec = _spec(cls)
    if spec is not None:
        _specs[cls] = spec  # for the C walker
    # What repeats from flow to flow is encoded once and looked up afterwards: the C
    # walker is fast enough without, the Python walker is not.
    if cls in (Address, SSLCert):
        return _value_encoder(cls)
    if spec is not None:
        return _encode_fields if spec[0] is _FIELDS else _spec_encoder(spec)
    if hasattr(cls, "get_state"):
        return _encode_state
    if issubclass(cls, dict):
        return _encode_dumps
    if issubclass(cls, collections.abc.Sequence) and not issubclass(cls, (str, bytes)):
        return _encode_list
    return _encode_leaf


# --- the models' layouts -------------------------------------------------------------

def _spec(cls: type) -> Spec | None:
    """The spec of a class saved from one of the tables, or None."""
    if issubclass(cls, Flow) and cls.get_state is Flow.get_state:
        names = list(cls._stateobject_attributes)
        tail = b"".join(encode_leaf(name) + tnetstring.dumps(list(value))
                        for name, value in cls._state_constants.items())
        return (_attributes_getter(cls, names), _encoded_keys(names), None, tail,
                _flow_refuses)
    if issubclass(cls, StateObject) and cls.get_state is StateObject.get_state:
        names = list(cls._stateobject_attributes)
        return (_attributes_getter(cls, names), _encoded_keys(names), None, b"",
                _has_own_get_state)
    if (issubclass(cls, Message) and cls.get_state in (Message.get_state, HTTPRequest.get_state)
            and cls._data_class.get_state is MessageData.get_state):
        return _message_spec(cls)
    if issubclass(cls, _MultiDict) and cls.get_state is _MultiDict.get_state:
        return (_FIELDS, None, None, b"", None)
    if cls is Address:
        names = list(cls._state_fields)
        return (_getter(names), _encoded_keys(names), None, b"", None)
    return None


def _message_spec(cls: type) -> Spec:
    """A request's or response's dict: its data slots, the ``_omitted_when_none`` ones
    last and only when set, then the message's ``_extra_state`` attributes."""
    data_class = cls._data_class
    optional = list(data_class._omitted_when_none)
    names = [name for name in data_class.__slots__ if name not in optional]
    extra = list(getattr(cls, "_extra_state", ()))
    get_data = _getter(names + optional)
    if extra:
        get_extra = _getter(extra)
        getter = lambda message: get_data(message.data) + get_extra(message)  # noqa: E731
    else:
        getter = lambda message: get_data(message.data)  # noqa: E731
    flags = (False,) * len(names) + (True,) * len(optional) + (False,) * len(extra)

    def refuses(message: Any) -> bool:
        return type(message.data) is not data_class

    return (getter, _encoded_keys(names + optional + extra), flags, b"", refuses)


def _flow_refuses(flow: Any) -> bool:
    """A flow with a backup is saved with it; a get_state set on the object itself (a test
    double, a script's patch) wins."""
    return flow._backup is not None or "get_state" in flow.__dict__


def _has_own_get_state(obj: Any) -> bool:
    return "get_state" in obj.__dict__


def _attributes_getter(cls: type, names: list[str]) -> Callable[[Any], tuple]:
    """Read ``names`` of a ``cls`` object; an attribute served by a descriptor that keeps
    the value as it is under another name (``stored_as``: a connection's addresses) is
    read from there, without a Python-level ``__get__`` call per flow."""
    return _getter([getattr(getattr(cls, name, None), "stored_as", name) for name in names])


def _getter(names: list[str]) -> Callable[[Any], tuple]:
    """Read ``names`` of an object as one tuple (attrgetter returns a bare value for one
    name)."""
    if len(names) == 1:
        name = names[0]
        return lambda obj: (getattr(obj, name),)
    return attrgetter(*names)


def _encoded_keys(names: list[str]) -> tuple[bytes, ...]:
    return tuple(encode_leaf(name) for name in names)


# --- framing ---------------------------------------------------------------------------

def _frame(out: list, start: int, size: int, tag: bytes) -> int:
    """Finish a container whose payload of ``size`` bytes follows ``out[start]``, a
    placeholder for its length prefix."""
    prefix = b"%d:" % size
    out[start] = prefix
    out.append(tag)
    return len(prefix) + size + 1


def _encode_items(keys: tuple, values: tuple, out: list) -> int:
    """Append ``key, value`` pairs of a dict's payload; return their size.

    The common leaves are encoded here, each with its key in one formatting step: the
    format is that of ``encode_leaf``, which handles every other leaf."""
    size = 0
    append = out.append
    for key, value in zip(keys, values):
        kind = type(value)
        if kind is bytes and len(value) <= COPY_LIMIT:
            piece = b"%b%d:%b," % (key, len(value), value)
        elif value is None:
            piece = key + b"0:~"
        elif kind is float:
            data = b"%r" % value
            piece = b"%b%d:%b^" % (key, len(data), data)
        elif kind is str:
            data = value.encode("utf-8")
            piece = b"%b%d:%b;" % (key, len(data), data)
        elif kind is bool:
            piece = key + (b"4:true!" if value else b"5:false!")
        else:
            append(key)
            size += len(key) + encode_value(value, out)
            continue
        append(piece)
        size += len(piece)
    return size


# --- the Python walker's model encoders --------------------------------------------

def _spec_encoder(spec: Spec) -> Encoder:
    """Encode an object as its spec says (the C walker's ``encode_object``, in Python)."""
    getter, keys, optional, tail, guard = spec
    if keys is None:
        return lambda obj, out: encode_value(getter(obj), out)

    def encode(obj: Any, out: list) -> int:
        if guard is not None and guard(obj):
            return _encode_state(obj, out)
        values = getter(obj)
        present = keys
        if optional is not None:
            pairs = [(key, value) for key, value, omitted in zip(keys, values, optional)
                     if value is not None or not omitted]
            present, values = [key for key, _ in pairs], [value for _, value in pairs]
        start = len(out)
        out.append(b"")
        size = _encode_items(present, values, out)
        if tail:
            out.append(tail)
            size += len(tail)
        return _frame(out, start, size, b"}")

    return encode


def _encode_fields(multidict: Any, out: list) -> int:
    """A multidict's ``[[name, value], ...]``; header fields repeat from message to
    message, so each is encoded once and then looked up."""
    fields = multidict.fields
    cache = _fields
    try:
        parts = [cache[field] for field in fields]
    except (KeyError, TypeError):  # a new field, or an unhashable one
        parts = [_encode_field(field) for field in fields]
    size = sum(map(len, parts))
    prefix = b"%d:" % size
    out.append(prefix)
    out.extend(parts)
    out.append(b"]")
    return len(prefix) + size + 1


def _encode_field(field: Any) -> bytes:
    try:
        encoded = _fields.get(field)
    except TypeError:
        return tnetstring.dumps(list(field))
    if encoded is None:
        encoded = tnetstring.dumps(list(field))
        # Only exact bytes and str: equal keys of other types (1 and True) encode apart.
        if (len(encoded) <= MAX_CACHED_SIZE and type(field) is tuple
                and all(type(part) in (bytes, str) for part in field)):
            if len(_fields) >= MAX_CACHED:
                _fields.clear()
            _fields[field] = encoded
    return encoded


def _value_encoder(cls: type) -> Encoder:
    """An immutable value (address, certificate) encoded from its ``get_state()`` once per
    distinct value: the connections of every flow carry a few of them, and a certificate's
    state (its PEM) is dear to compute."""
    slots = getattr(cls, "__slots__", None)
    get = attrgetter(*slots) if slots else (lambda obj: tuple(vars(obj).values()))

    def encode(value: Any, out: list) -> int:
        attributes = get(value)
        key = (cls, attributes, tuple(map(type, attributes)))
        try:
            encoded = _values.get(key)
        except TypeError:  # an unhashable attribute: no caching
            encoded = key = None
        if encoded is None:
            encoded = tnetstring.dumps(value.get_state())
            if key is not None:
                if len(_values) >= MAX_CACHED:
                    _values.clear()
                _values[key] = encoded
        out.append(encoded)
        return len(encoded)

    return encode


# --- plain values --------------------------------------------------------------------

def _encode_state(obj: Any, out: list) -> int:
    return encode_value(obj.get_state(), out)


def _encode_dumps(value: Any, out: list) -> int:
    encoded = tnetstring.dumps(value)
    out.append(encoded)
    return len(encoded)


def _encode_list(items: Any, out: list) -> int:
    start = len(out)
    out.append(b"")
    size = 0
    for item in items:
        size += encode_value(item, out)
    return _frame(out, start, size, b"]")


def _encode_leaf(value: Any, out: list) -> int:
    leaf = encode_leaf(value)
    if leaf is None:  # a large body: appended as it is, copied once by the final join
        prefix = b"%d:" % len(value)
        out.append(prefix)
        out.append(value)
        out.append(b",")
        return len(prefix) + len(value) + 1
    out.append(leaf)
    return len(leaf)
