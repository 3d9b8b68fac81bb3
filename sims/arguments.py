"""Argument types shared by the ``roadschool`` commands: numbers with a range, named clearly."""

from __future__ import annotations

import argparse
import math


def _number(text: str, kind: type, minimum: float, strict: bool):
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = f"more than {minimum:g}" if strict else f"{minimum:g} or more"
        raise argparse.ArgumentTypeError(f"must be a finite number, {bound}; got {text}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    return _number(text, int, 1, strict=False)


def non_negative_int(text: str) -> int:
    """A whole number >= 0."""
    return _number(text, int, 0, strict=False)


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    return _number(text, float, 0.0, strict=False)


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return _number(text, float, 0.0, strict=True)
