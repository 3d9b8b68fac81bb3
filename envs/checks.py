"""Field checks for the frozen configuration dataclasses: types first, then ranges.

``check_types(config)`` holds every field to the type its annotation names (a bool is
not a number, a string is not a bool, a float is not an int), turning tuples given as
lists into tuples; ``in_range`` and ``finite`` say what is wrong in one line. Every
config's ``__post_init__`` calls them, so a config that constructs is one the
simulation can run. Errors are ``ValueError`` (``TypeError`` for a wrong type).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from functools import cache

import numpy as np

_REAL = (int, float, np.integer, np.floating)
_INT = (int, np.integer)


def is_real(value) -> bool:
    """A real number, not a bool."""
    return isinstance(value, _REAL) and not isinstance(value, (bool, np.bool_))


def is_int(value) -> bool:
    """A whole number given as an int, not a bool."""
    return isinstance(value, _INT) and not isinstance(value, (bool, np.bool_))


@cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def check_types(config) -> None:
    """Hold each field of the dataclass ``config`` to its annotated type (see the module docstring)."""
    name = type(config).__name__
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        fixed = _conform(value, _hints(type(config))[f.name], f"{name}.{f.name}")
        if fixed is not value:
            object.__setattr__(config, f.name, fixed)


def _conform(value, hint, what: str):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        kinds = [h for h in options if h is not type(None)] or [object]
        if len(kinds) == 1:
            return _conform(value, kinds[0], what)
        errors = []
        for kind in kinds:  # the first of the union's types the value holds to
            try:
                return _conform(value, kind, what)
            except (TypeError, ValueError) as exc:
                errors.append(exc)
        names = " or ".join(getattr(k, "__name__", str(k)) for k in kinds)
        raise TypeError(f"{what} must be a {names}, got {_show(value)}")
    if hint is float:
        if not is_real(value):
            raise TypeError(f"{what} must be a number, got {_show(value)}")
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"{what} is too large") from None
    if hint is int:
        if not is_int(value):
            raise TypeError(f"{what} must be a whole number, got {_show(value)}")
        return int(value)
    if hint is bool:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{what} must be true or false, got {_show(value)}")
        return bool(value)
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"{what} must be a string, got {_show(value)}")
        return value
    if origin is tuple:
        args = typing.get_args(hint)
        if isinstance(value, str) or not isinstance(value, (tuple, list)):
            raise TypeError(f"{what} must be a list, got {_show(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            items = [_conform(v, args[0], f"{what}[{i}]") for i, v in enumerate(value)]
        else:
            if len(value) != len(args):
                raise ValueError(f"{what} must have {len(args)} entries, got {len(value)}")
            items = [_conform(v, h, f"{what}[{i}]") for i, (v, h) in enumerate(zip(value, args))]
        result = tuple(items)
        return value if isinstance(value, tuple) and all(a is b for a, b in zip(result, value)) else result
    if isinstance(hint, type) and not isinstance(value, hint):
        raise TypeError(f"{what} must be a {hint.__name__}, got {type(value).__name__}")
    return value


def in_range(config, field: str, low: float, high: float, *, low_open: bool = False, unit: str = "") -> None:
    """ValueError unless ``low <= config.field <= high`` (``low <`` if ``low_open``), finite."""
    value = getattr(config, field)
    ok = (
        (isinstance(value, int) or math.isfinite(value))
        and (value > low if low_open else value >= low)
        and value <= high
    )
    if not ok:
        left = "(" if low_open else "["
        raise ValueError(
            f"{type(config).__name__}.{field} must be in {left}{low:g}, {high:g}]{' ' + unit if unit else ''}, "
            f"got {value}"
        )


def finite(config, *fields: str) -> None:
    """ValueError unless every named field is a finite number."""
    for field in fields:
        value = getattr(config, field)
        if not (isinstance(value, int) or math.isfinite(value)):
            raise ValueError(f"{type(config).__name__}.{field} must be a finite number, got {value}")


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
