"""An operation: one typed definition of a kind of background job.

Its params dataclass (field types, defaults, help text in the fields' metadata) is the one source
from which the command line's options, the pages' form defaults and the HTTP API's request schema
are drawn; its runner is named by a dotted path and imported only when a job runs, so that a
command that merely talks to a server starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable

MISSING = dataclasses.MISSING


class ParamError(ValueError):
    """Parameters that do not fit an operation, with one sentence that says which and why."""


def option(default: Any = MISSING, help: str = "", *, flag: str | None = None, positional: bool = False,
           choices: tuple | None = None, minimum: float | None = None, path: bool = False) -> Any:
    """A params field: its default, help text and how the command line spells it.

    `flag` renames the command-line option (`--model` for a field `embedder`); `positional` makes
    it an argument; `choices` and `minimum` are checked wherever the params come from; a `path` given
    on the command line is made absolute there, since the server may run in another folder."""
    metadata = {"help": help, "flag": flag, "positional": positional, "choices": choices, "minimum": minimum,
                "path": path}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Operation:
    name: str
    params: type
    run: str | Callable
    summary: str
    unit: str = "item"
    action: str | None = None
    done: str = "{message}"
    check: str | Callable | None = None

    @property
    def guarded_action(self) -> str:
        """The action of `curation.accounts.ACTIONS` whose role may start (and cancel) this kind."""
        return self.action or self.name

    def runner(self) -> Callable:
        return _resolve(self.run)

    def check_params(self, params: Any) -> None:
        """Refuse params that cannot run (the check raises with a sentence) before a job is made."""
        if self.check:
            _resolve(self.check)(params)

    def fields(self) -> list[dataclasses.Field]:
        return list(dataclasses.fields(self.params))

    def defaults(self) -> dict:
        """Each field's default: what a form starts from."""
        return {f.name: _default(f) for f in self.fields() if _default(f) is not MISSING}

    def parse(self, values: dict | Any) -> Any:
        """Typed params from a dict (the API's body, a form, a stored job); ParamError when a field is
        unknown, missing or of the wrong type, or outside its choices."""
        if isinstance(values, self.params):
            return values
        if not isinstance(values, dict):
            raise ParamError(f"The parameters of {self.name} are a JSON object.")
        known = {f.name: f for f in self.fields()}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ParamError(f"{self.name} has no parameter {', '.join(map(repr, unknown))}; "
                             f"it takes {', '.join(known) or 'none'}.")
        hints = typing.get_type_hints(self.params)
        typed = {}
        for name, f in known.items():
            if name in values:
                typed[name] = _check_value(self.name, f, hints[name], values[name])
            elif _default(f) is MISSING:
                raise ParamError(f"{self.name} needs the parameter '{name}': {f.metadata.get('help', '')}".rstrip(": "))
        return self.params(**typed)

    def as_dict(self, params: Any) -> dict:
        return dataclasses.asdict(params)

    def json_schema(self) -> dict:
        """The request schema of this operation's params (JSON Schema, as OpenAPI uses it)."""
        hints = typing.get_type_hints(self.params)
        properties, required = {}, []
        for f in self.fields():
            prop = {**_schema_of(hints[f.name]), "description": f.metadata.get("help", "")}
            if f.metadata.get("choices"):
                prop["enum"] = list(f.metadata["choices"])
            if f.metadata.get("minimum") is not None:
                prop["minimum"] = f.metadata["minimum"]
            default = _default(f)
            if default is MISSING:
                required.append(f.name)
            else:
                prop["default"] = default
            properties[f.name] = prop
        schema = {"type": "object", "properties": properties, "additionalProperties": False}
        return {**schema, "required": required} if required else schema

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """This operation's options on a command-line subcommand."""
        hints = typing.get_type_hints(self.params)
        for f in self.fields():
            _add_argument(parser, f, hints[f.name])

    def from_args(self, args: argparse.Namespace) -> dict:
        """The params a command line gave (the rest take their defaults), paths made absolute."""
        values = {}
        for f in self.fields():
            value = getattr(args, f.name, None)
            if value is not None:
                values[f.name] = _absolute(value) if f.metadata.get("path") else value
        return values


def _absolute(value):
    if isinstance(value, list):
        return [os.path.abspath(os.path.expanduser(v)) for v in value]
    return os.path.abspath(os.path.expanduser(value))


def _resolve(dotted: str | Callable) -> Callable:
    """A runner or check named `module:function` (imported now), or given as the function itself."""
    if callable(dotted):
        return dotted
    module, _, function = dotted.partition(":")
    return getattr(importlib.import_module(module), function)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def _base_type(hint) -> tuple[Any, bool]:
    """(the type under an `X | None`, whether None is allowed)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], True
    return hint, False


def _check_value(op: str, f: dataclasses.Field, hint, value) -> Any:
    base, nullable = _base_type(hint)
    if value is None:
        if nullable:
            return None
        raise ParamError(f"{op}'s parameter '{f.name}' cannot be null.")
    if typing.get_origin(base) is list:
        item = typing.get_args(base)[0]
        if not isinstance(value, list) or not all(_is(item, v) for v in value):
            raise ParamError(f"{op}'s parameter '{f.name}' is a list of {item.__name__}.")
        return list(value)
    if not _is(base, value):
        raise ParamError(f"{op}'s parameter '{f.name}' is a {_type_word(base)}, not {value!r}.")
    value = float(value) if base is float else value
    choices, minimum = f.metadata.get("choices"), f.metadata.get("minimum")
    if choices and value not in choices:
        raise ParamError(f"{op}'s parameter '{f.name}' is one of {', '.join(map(str, choices))}, not {value!r}.")
    if minimum is not None and value < minimum:
        raise ParamError(f"{op}'s parameter '{f.name}' is at least {minimum}, not {value!r}.")
    return value


def _is(kind, value) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def _type_word(kind) -> str:
    return {str: "text", int: "whole number", float: "number", bool: "true or false"}.get(kind, kind.__name__)


def _schema_of(hint) -> dict:
    base, nullable = _base_type(hint)
    if typing.get_origin(base) is list:
        schema = {"type": "array", "items": _schema_of(typing.get_args(base)[0])}
    else:
        schema = {"type": {str: "string", int: "integer", float: "number", bool: "boolean"}[base]}
    return {"anyOf": [schema, {"type": "null"}]} if nullable else schema


def _add_argument(parser: argparse.ArgumentParser, f: dataclasses.Field, hint) -> None:
    base, _ = _base_type(hint)
    meta, default = f.metadata, _default(f)
    help_text = meta.get("help", "")
    if default not in (MISSING, None, False, []) and not meta.get("positional"):
        help_text += f" (default {default})"
    if meta.get("positional"):
        nargs = "+" if typing.get_origin(base) is list else ("?" if default is None else None)
        parser.add_argument(f.name, nargs=nargs, metavar=f.name.upper().rstrip("S"), help=help_text)
        return
    flag = meta.get("flag") or "--" + f.name.replace("_", "-")
    if base is bool:
        parser.add_argument(flag, dest=f.name, action="store_true", default=None, help=help_text)
        return
    item = typing.get_args(base)[0] if typing.get_origin(base) is list else base
    kwargs = {"dest": f.name, "type": item, "default": None, "help": help_text,
              "required": default is MISSING, "choices": meta.get("choices")}
    if typing.get_origin(base) is list:
        kwargs["action"] = "append"
    parser.add_argument(flag, **kwargs)
