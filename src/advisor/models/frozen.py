"""Read-only containers for output models: reports share pieces through caches, so nothing
reachable from a report may change in place (a change would show in every later report)."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn, TypeVar

from pydantic import AfterValidator

_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


class FrozenDict(dict[_Key, _Value]):
    """A dict that refuses every change after it is built; it serialises as a plain dict."""

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("report data is read-only; copy it (dict(...)) to change it")

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __reduce__(self) -> tuple[type[FrozenDict[_Key, _Value]], tuple[dict[_Key, _Value]]]:
        # Pickle (batch workers, copies) rebuilds through the constructor, not item by item.
        return (type(self), (dict(self),))


def freeze(value: dict[_Key, _Value]) -> FrozenDict[_Key, _Value]:
    """``value`` as a FrozenDict, with nested dicts frozen and lists made tuples."""
    return value if isinstance(value, FrozenDict) else FrozenDict(_deep(value))


def _deep(value: dict[Any, Any]) -> dict[Any, Any]:
    return {key: _frozen_item(item) for key, item in value.items()}


def _frozen_item(item: Any) -> Any:
    if isinstance(item, dict):
        return FrozenDict(_deep(item))
    if isinstance(item, list):
        return tuple(_frozen_item(element) for element in item)
    return item


# A dict field of an output model, frozen (nested dicts and lists too) once validated.
FrozenMapping = Annotated[dict[str, Any], AfterValidator(freeze)]
