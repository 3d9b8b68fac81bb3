"""Command-line options generated from the frozen config dataclasses, and the one way to declare a command.

A command's settings are the fields of its configs: :func:`add_config` makes one option per
field, named after the field (``noise_std`` -> ``--noise-std``), with the field's docstring as
its ``--help`` and the field's default as the one default (shown in ``--help``, never repeated
here). An option not given stays out of the namespace, so the config's own default applies.
:meth:`ConfigOptions.build` then constructs the config from what was given, before any work:
its ``__post_init__`` checks (ranges, types, limits) are the checks of the options, and a
refusal is one line naming the option the user typed, exit code 2.

Field metadata a config may carry for the command line: ``choices`` (the allowed values), and
``parse`` with ``metavar`` for a value written in its own way (``1280x720``).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import math
import re
import sys
import textwrap
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path


# ------------------------------------------------------------------ values from text
def whole_number(text: str) -> int:
    """A whole number, as typed (``1e3`` is not one)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def finite_number(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


whole_number.__name__ = "whole number"  # what argparse names in "invalid <type> value"
finite_number.__name__ = "number"


# ------------------------------------------------------------------ field docstrings
@cache
def _hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


@cache
def field_docs(cls: type) -> dict[str, str]:
    """``{field: docstring}`` of a dataclass: the string literal written under each field."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):  # no source (a frozen app): options without help
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = after.value.value
    return docs


def _help_text(doc: str) -> str:
    """A docstring as one paragraph of plain ``--help`` text."""
    text = " ".join(doc.split())
    text = re.sub(r":(?:class|func|meth|attr):`~?([^`]+)`", r"\1", text)
    return text.replace("``", "").replace("%", "%%")


def _shown(value) -> str:
    if isinstance(value, tuple):
        return " ".join(_shown(v) for v in value) if value else "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


# ------------------------------------------------------------------ one option per field
def flag(name: str) -> str:
    """The option of a field: ``noise_std`` -> ``--noise-std``."""
    return "--" + name.replace("_", "-")


class OptionError(ValueError):
    """An option's value the command's config refuses; the message names the option as typed."""


@dataclass
class _Option:
    name: str
    """The field's name."""
    dest: str
    strings: tuple[str, ...]


@dataclass
class ConfigOptions:
    """The options :func:`add_config` made for one config class (and the configs nested in it)."""

    cls: type
    options: list[_Option] = field(default_factory=list)
    nested: dict[str, ConfigOptions] = field(default_factory=dict)

    def given(self, args: argparse.Namespace) -> dict:
        """The fields the user gave, as the config's values."""
        values = {o.name: getattr(args, o.dest) for o in self.options if hasattr(args, o.dest)}
        for name, value in values.items():
            if isinstance(value, list):
                values[name] = tuple(value)
        return values

    def build(self, args: argparse.Namespace, base=None, **fixed):
        """The config: ``base`` (default: the class's defaults) with the options given and
        ``fixed`` (values the command sets itself) replaced. Raises what the config raises."""
        try:
            return self._apply(args, base, fixed)
        except (TypeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OptionError(refusal(first, self.all_options(), getattr(args, "_argv", ()))) from None

    def _apply(self, args: argparse.Namespace, base, fixed: dict):
        changes = {**self.given(args), **fixed}
        for name, options in self.nested.items():
            inner = changes.pop(name, getattr(base, name) if base is not None else _field_default(self.cls, name))
            changes[name] = options._apply(args, inner, {})
        if base is None:
            return self.cls(**changes)
        return dataclasses.replace(base, **changes) if changes else base

    def all_options(self) -> list[_Option]:
        return self.options + [o for n in self.nested.values() for o in n.all_options()]


def add_config(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    only: Sequence[str] | None = None,
    skip: Sequence[str] = (),
    aliases: dict[str, str | tuple[str, ...]] | None = None,
    nested: dict[str, dict] | None = None,
    helps: dict[str, str] | None = None,
    defaults=None,
    dest_prefix: str = "",
) -> ConfigOptions:
    """Add one option per field of the dataclass ``cls`` (those in ``only``, or all but ``skip``;
    fields holding a dataclass are left out unless named in ``nested``, whose values are the
    keyword arguments of the inner call).

    Args:
        aliases: other option strings a field also answers to (old names users rely on).
        helps: help texts that say better than the docstring what a field means to this command.
        defaults: the config whose values ``--help`` shows as defaults (default: the class's).
    """
    docs = field_docs(cls)
    hints = _hints(cls)
    shown = defaults if defaults is not None else _default_instance(cls)
    aliases = aliases or {}
    nested = nested or {}
    result = ConfigOptions(cls)
    for f in dataclasses.fields(cls):
        if f.name in nested:
            inner = nested[f.name]
            result.nested[f.name] = add_config(
                parser,
                hints[f.name],
                dest_prefix=f"{dest_prefix}{f.name}.",
                defaults=getattr(shown, f.name, None),
                **inner,
            )
            continue
        if (only is not None and f.name not in only) or f.name in skip:
            continue
        hint = hints[f.name]
        kind = _plain(hint)
        if dataclasses.is_dataclass(kind) or any(dataclasses.is_dataclass(a) for a in typing.get_args(kind)):
            continue  # a config inside (nested, if at all) or a tuple of them
        more = aliases.get(f.name, ())
        strings = (flag(f.name), *((more,) if isinstance(more, str) else more))
        dest = f"{dest_prefix}{f.name}"
        required = shown is None and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = None if required else getattr(shown, f.name) if shown is not None else _field_default(cls, f.name)
        text = _help_text((helps or {}).get(f.name) or docs.get(f.name, ""))
        kwargs = _argument(kind, f, default)
        if "format" in f.metadata and default is not None:
            default = f.metadata["format"](default)
        if "choices" not in kwargs and kwargs.get("action") is not argparse.BooleanOptionalAction:
            kwargs["metavar"] = kwargs.get("metavar") or f.name.upper()
        note = f"default: {_shown(default)}" if default is not None else ""  # None: the help says what happens
        if "choices" in kwargs and "metavar" in kwargs:
            note = f"from {', '.join(kwargs['choices'])}; {note}"
        help_text = f"{text} ({note})" if text and note else (text or note)
        if required:
            kwargs["required"] = True
        parser.add_argument(*strings, dest=dest, default=argparse.SUPPRESS, help=help_text, **kwargs)
        result.options.append(_Option(f.name, dest, strings))
    return result


def _field_default(cls: type, name: str):
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def _default_instance(cls):
    try:
        return cls()
    except TypeError:  # fields without defaults
        return None


def _plain(hint):
    """``X | None`` -> ``X``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [h for h in typing.get_args(hint) if h is not type(None)]
        return kinds[0] if kinds else hint
    return hint


def _argument(kind, f: dataclasses.Field, default) -> dict:
    """argparse keywords for a field of type ``kind``."""
    meta = f.metadata
    choices = meta.get("choices")
    if "parse" in meta:
        return {"type": meta["parse"], "metavar": meta.get("metavar")}
    if kind is bool:
        return {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(kind) is tuple:
        args = typing.get_args(kind)
        item = args[0]
        parse = {int: whole_number, float: finite_number}.get(item, item if item is not str else None)
        out: dict = {"nargs": "+" if len(args) == 2 and args[1] is Ellipsis else len(args)}
        if out["nargs"] == "+":
            out["action"] = "extend"  # --family a --family b, or --families a b
        if parse is not None:
            out["type"] = parse
        if choices:
            out["choices"] = choices
            out["metavar"] = meta.get("metavar") or f.name.upper()
        if meta.get("metavar"):
            out["metavar"] = meta["metavar"]
        return out
    parse = {int: whole_number, float: finite_number, Path: Path}.get(kind)
    out = {}
    if parse is not None:
        out["type"] = parse
    if choices:
        out["choices"] = choices
    if meta.get("metavar"):
        out["metavar"] = meta["metavar"]
    return out


# ------------------------------------------------------------------ refusals that name the option
def refusal(message: str, options: list[_Option], argv: Sequence[str]) -> str:
    """A config's error message with its field names written as the options the user typed
    (``CollectConfig.num_roads must be ...`` -> ``--roads must be ...``)."""
    typed = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    for o in sorted(options, key=lambda o: -len(o.name)):
        used = next((s for s in o.strings if s in typed), o.strings[0])
        message = re.sub(rf"(?<![\w.-])(?:[A-Z]\w*\.)*{re.escape(o.name)}(?![\w])", used, message)
    return message


# ------------------------------------------------------------------ commands
@dataclass(frozen=True)
class Command:
    """A ``roadschool`` command: its name, one line of help, how it adds its options, and what
    runs it. ``options(parser)`` adds the options and returns a ``prepare(args)`` that checks
    them and builds the configs onto ``args`` (raising ``ValueError`` for bad input), or None;
    it imports what it needs itself, so that only the chosen command's configs are loaded.
    ``run(args) -> exit code``. A command with ``subcommands`` is a group."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int] | None = None
    options: Callable[[argparse.ArgumentParser], Callable | None] | None = None
    subcommands: tuple[Command, ...] = ()
    description: str | None = None


def add_commands(subparsers, commands: Sequence[Command], chosen: Sequence[str] | None = None) -> None:
    """Add ``commands`` (and their subcommands) to ``subparsers``; each parser gets the defaults
    ``_command`` (the :class:`Command`), ``_parser`` and ``_prepare``. With ``chosen`` (the
    command line's words), only the command named there gets its options: the others are one
    line of ``--help`` and cost nothing to set up."""
    for command in commands:
        p = subparsers.add_parser(command.name, help=command.help, description=command.description or command.help)
        wanted = chosen is None or command.name in chosen
        prepare = command.options(p) if command.options is not None and wanted else None
        p.set_defaults(_command=command, _parser=p, _prepare=prepare)
        if command.subcommands:
            sub = p.add_subparsers(dest=f"{command.name}_command", metavar=command.name.upper(), required=True)
            add_commands(sub, command.subcommands, chosen if wanted else ())


def prepare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Check the options and build the configs of the chosen command, before any work: 0, or
    2 once a bad value is refused in one line on stderr (as its parser refuses a bad option)."""
    args._argv = tuple(argv)
    step = getattr(args, "_prepare", None)
    if step is None:
        return 0
    try:
        step(args)
    except ValueError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        parser = args._parser
        print(
            parser.refusal(message) if hasattr(parser, "refusal") else f"{parser.prog}: error: {message}",
            file=sys.stderr,
        )
        return 2
    return 0
