"""Argument types shared by the ``roadschool`` commands: numbers with a range, named clearly."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from envs.atomic import check_output_path


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, ``prog: error: message``, exit code 2
    (the usage is one ``--help`` away, and a wall of it hides what was wrong)."""

    def error(self, message: str):
        self.exit(2, self.refusal(message) + "\n")

    def refusal(self, message: str) -> str:
        """The one line that refuses ``message``."""
        return f"{self.prog}: error: {message} (see {self.prog} --help)"


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


def bounded_float(low: float, high: float, shown: str | None = None):
    """An argparse type: a finite number in ``[low, high]`` (``shown`` is how the range is written)."""

    def parse(text: str) -> float:
        value = _number(text, float, low, strict=False)
        if value > high:
            raise argparse.ArgumentTypeError(f"must be in {shown or f'{low:g} .. {high:g}'}; got {text}")
        return value

    parse.__name__ = "number"
    return parse


def bounded_int(low: int, high: int):
    """An argparse type: a whole number in ``[low, high]``."""

    def parse(text: str) -> int:
        value = _number(text, int, low, strict=False)
        if value > high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}; got {text}")
        return value

    parse.__name__ = "whole number"
    return parse


MAX_SEED = 2**32 - 1

seed = bounded_int(0, MAX_SEED)
"""A seed: a whole number from 0 to 2**32 - 1."""


def output_file(text: str) -> Path:
    """A file path that can be written: not empty, not a directory, in a folder this user can
    write (or can create). Checked when the arguments are read, so before any work."""
    try:
        return check_output_path(text, folder=False)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def output_dir(text: str) -> Path:
    """A folder path that can be written (it may not exist yet)."""
    try:
        return check_output_path(text, folder=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
