"""Ordered mappings that allow a key more than once.

HTTP is full of them: header fields, query strings, cookies and form fields may all repeat a
name, and their order matters on the wire. A plain dict would lose both, so these classes keep
the original ``fields`` (a tuple of ``(key, value)`` pairs) and offer a dict-like view on top:
``d[key]`` is the first value, ``d[key] = value`` replaces every value of that key.

Rules of this file:
- All logic lives in ``_MultiDict``; subclasses only say where ``fields`` is stored
  (``MultiDict`` keeps it, ``MultiDictView`` reads and writes it through two callables) and,
  through four small hooks, how keys compare and how stored values map to public ones
  (``netlib.http.Headers`` stores bytes, speaks str and ignores case).
- ``fields`` is always replaced, never mutated, so a view's setter sees every change.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

__all__ = ["MultiDict", "MultiDictView", "fields_of"]

Fields = tuple[tuple[Any, Any], ...]


class _MultiDict(MutableMapping):
    """The dictionary interface over ``self.fields``, shared by every multidict."""

    fields: Fields

    # --- hooks for subclasses -----------------------------------------------------------

    @staticmethod
    def _kconv(key: Any) -> Any:
        """Map a stored key to what it is compared by (Headers: lower case)."""
        return key

    @staticmethod
    def _reduce_values(values: list) -> Any:
        """Turn all values of one key into the single value ``d[key]`` returns."""
        return values[0]

    @staticmethod
    def _to_stored(item: Any) -> Any:
        """Convert a key or value from the public interface to its stored form."""
        return item

    @staticmethod
    def _from_stored(item: Any) -> Any:
        """Convert a stored key or value to its public form."""
        return item

    # --- the mapping interface ----------------------------------------------------------

    def _stored_values(self, key: Any) -> list:
        wanted = self._kconv(self._to_stored(key))
        kconv = self._kconv
        return [value for name, value in self.fields if kconv(name) == wanted]

    def __getitem__(self, key: Any) -> Any:
        values = self.get_all(key)
        if not values:
            raise KeyError(key)
        return self._reduce_values(values)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.set_all(key, [value])

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        self.set_all(key, [])

    def __contains__(self, key: object) -> bool:
        return bool(self._stored_values(key))

    def __iter__(self) -> Iterator:
        """Each key once, in the spelling of its first occurrence."""
        seen = set()
        for name, _ in self.fields:
            folded = self._kconv(name)
            if folded not in seen:
                seen.add(folded)
                yield self._from_stored(name)

    def __len__(self) -> int:
        return len({self._kconv(name) for name, _ in self.fields})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _MultiDict):
            return self.fields == other.fields
        return NotImplemented

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.fields)!r})"

    # --- multi-value access -------------------------------------------------------------

    def get_all(self, key: Any) -> list:
        """All values for ``key``, in order; an empty list if there are none."""
        return [self._from_stored(value) for value in self._stored_values(key)]

    def set_all(self, key: Any, values: Iterable) -> None:
        """Replace the values of ``key``.

        Existing fields of that key keep their position (and the spelling of their key), one
        new value each; surplus old fields are dropped and surplus new values appended, so
        rewriting a header does not move it around in the message.
        """
        to_stored, kconv = self._to_stored, self._kconv
        stored_key = to_stored(key)
        wanted = kconv(stored_key)
        pending = [to_stored(value) for value in values]
        pending.reverse()  # pop() from the end takes them in the given order
        kept = []
        for name, value in self.fields:
            if kconv(name) != wanted:
                kept.append((name, value))
            elif pending:
                kept.append((name, pending.pop()))
        kept.extend((stored_key, value) for value in reversed(pending))
        self.fields = tuple(kept)

    def add(self, key: Any, value: Any) -> None:
        """Add one more value for ``key`` after all existing fields."""
        self.insert(len(self.fields), key, value)

    def insert(self, index: int, key: Any, value: Any) -> None:
        """Insert one more value for ``key`` at position ``index`` of ``fields``."""
        item = (self._to_stored(key), self._to_stored(value))
        self.fields = self.fields[:index] + (item,) + self.fields[index:]

    def keys(self, multi: bool = False) -> list:
        """All keys; with ``multi``, one per field (so repeated keys repeat)."""
        return [key for key, _ in self.items(multi)]

    def values(self, multi: bool = False) -> list:
        """The value of each key (as ``d[key]``); with ``multi``, every field's value."""
        return [value for _, value in self.items(multi)]

    def items(self, multi: bool = False) -> list:
        """``(key, d[key])`` for each key; with ``multi``, every field as a pair."""
        if multi:
            convert = self._from_stored
            return [(convert(name), convert(value)) for name, value in self.fields]
        return [(key, self[key]) for key in self]

    def to_dict(self) -> dict:
        """A plain dict; a key with several values maps to the list of them."""
        result = {}
        for key in self:
            values = self.get_all(key)
            result[key] = values[0] if len(values) == 1 else values
        return result

    def copy(self) -> _MultiDict:
        return type(self)(self.fields)

    # --- state (flow files) -------------------------------------------------------------

    def get_state(self) -> list[list]:
        """The fields as a list of ``[key, value]`` lists, the serialisable form."""
        return [[name, value] for name, value in self.fields]

    def set_state(self, state: Iterable[Iterable]) -> None:
        self.fields = tuple(map(tuple, state))

    @classmethod
    def from_state(cls, state: Iterable[Iterable]) -> _MultiDict:
        # map() rather than a generator: a flow file holds two header lists per flow.
        return cls(tuple(map(tuple, state)))


class MultiDict(_MultiDict):
    """A multidict that owns its fields."""

    def __init__(self, fields: Iterable[Iterable] = ()) -> None:
        self.fields = tuple(tuple(pair) for pair in fields)


class MultiDictView(_MultiDict):
    """The ``MultiDict`` interface over data that lives elsewhere.

    The view holds no fields of its own: ``getter()`` computes them from the parent (a query
    string, a Cookie header, a form body) on every access, and each change is handed back to
    the parent at once through ``setter(fields)``. So the parent stays the single source of
    truth, and a view never goes stale.
    """

    def __init__(self, getter: Callable[[], Fields], setter: Callable[[Fields], None]) -> None:
        self._getter = getter
        self._setter = setter

    @property
    def fields(self) -> Fields:
        return tuple(self._getter())

    @fields.setter
    def fields(self, value: Fields) -> None:
        self._setter(value)

    def copy(self) -> MultiDict:
        """A detached MultiDict: a view cannot be copied without its parent."""
        return MultiDict(self.fields)


def fields_of(value: Any) -> Fields:
    """The ``(key, value)`` pairs of a multidict, a mapping, or an iterable of pairs.

    Properties that accept "anything dict-like" (``request.query = {...}``) use this, so a
    user may assign a multidict, a plain dict or a list of pairs alike.
    """
    if isinstance(value, _MultiDict):
        return tuple(value.items(multi=True))
    if isinstance(value, Mapping):
        return tuple(value.items())
    return tuple(tuple(pair) for pair in value)
