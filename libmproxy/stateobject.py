"""Models that declare their saved fields once, in a table, and get state for free.

A model lists ``_stateobject_attributes``: attribute name -> kind, where the kind is
- a plain type (``str``, ``int``, ``float``, ``bool``, ``bytes``): saved as is;
- a class with ``get_state``/``from_state`` (another StateObject, ``Address``, ``SSLCert``,
  ``HTTPRequest``): saved as its state, rebuilt with ``from_state``;
- a one-element list of such a class (``[TCPMessage]``): a list of those.
None is saved as None for every kind. The table is also the exact key set of the state:
``set_state`` refuses missing or unknown keys, naming them, so a damaged or foreign flow
file fails with a clear message instead of a half-built object.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, ClassVar, Mapping

__all__ = ["StateObject"]


def _is_nested(kind: Any) -> bool:
    return hasattr(kind, "from_state")


def _dump(value: Any, kind: Any) -> Any:
    if value is None:
        return None
    if isinstance(kind, list):
        return [_dump(item, kind[0]) for item in value]
    if _is_nested(kind):
        return value.get_state()
    return value


def _loader(kind: Any) -> Callable[[Any], Any] | None:
    """What turns a saved, non-None value of ``kind`` back into the attribute: None for a
    plain type (the value is used as it is), ``from_state`` for a nested object, a list
    builder for a list of those. Worked out once per class (``_loaders``), not per value."""
    if isinstance(kind, list):
        item_loader = _loader(kind[0])
        if item_loader is None:
            return list
        return lambda items: [None if item is None else item_loader(item) for item in items]
    if _is_nested(kind):
        return kind.from_state
    return None


def _copy_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy_value(item) for item in value]
    if hasattr(value, "copy"):
        return value.copy()
    return value  # immutable values (str, numbers, Address, SSLCert) are shared


class StateObject:
    """Base of the models that are saved to flow files."""

    _stateobject_attributes: ClassVar[Mapping[str, Any]] = {}

    def get_state(self) -> dict[str, Any]:
        """The object as a dict of plain values (the flow-file form)."""
        return {
            name: _dump(getattr(self, name), kind)
            for name, kind in self._stateobject_attributes.items()
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Replace every saved field from ``state``. Nested objects are rebuilt, not
        updated in place, so objects shared with a copy are never changed through it."""
        self._check_keys(state)
        for name, load in self._loaders():
            value = state[name]
            if load is not None and value is not None:
                value = load(value)
            setattr(self, name, value)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> StateObject:
        obj = cls.__new__(cls)
        obj.set_state(state)
        return obj

    @classmethod
    def _loaders(cls) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
        """``(name, loader)`` for each saved field (see ``_loader``), cached on the class.
        The cache remembers the table it was made from and its size, so a subclass's own
        table, or a field added after the class (``ServerConnection``'s ``via``), is seen."""
        attributes = cls._stateobject_attributes
        cached = cls.__dict__.get("_loaders_cache")
        if cached is None or cached[0] is not attributes or len(cached[1]) != len(attributes):
            cached = (attributes, tuple((name, _loader(kind)) for name, kind in attributes.items()))
            cls._loaders_cache = cached
        return cached[1]

    @classmethod
    def _check_keys(cls, state: Mapping[str, Any]) -> None:
        expected = cls._stateobject_attributes.keys()
        if state.keys() != expected:
            missing = sorted(expected - state.keys())
            unexpected = sorted(state.keys() - expected)
            raise ValueError(
                f"invalid {cls.__name__} state: missing {missing}, unexpected {unexpected}"
            )

    def copy(self) -> StateObject:
        """A copy whose saved fields can be changed without touching this object."""
        new = copy.copy(self)
        for name in self._stateobject_attributes:
            setattr(new, name, _copy_value(getattr(self, name)))
        return new
