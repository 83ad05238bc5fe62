"""Command-line flags from settings dataclasses: the one way minidistil turns settings into flags.

The command line, the examples and the bench scripts keep their knobs in dataclasses whose fields
carry a trailing comment; `add_dataclass_flags` makes one flag per field, its help that comment:

    @dataclass
    class Settings:
        max_steps: int = 100          # optimizer steps
        student_layers: tuple[int, ...] | None = None  # teacher layers, e.g. 0,2,5

    s = parse_settings(Settings, __doc__)     # --max-steps 100, --student-layers 0,2,5

How a field becomes a flag: `max_steps` -> `--max-steps`; a bool -> `--x / --no-x`; `X | None` ->
a flag of type X that defaults to None (for a number, the word `none` sets None); `Literal["a", "b"]`
-> a choice; a fixed-size tuple such as `tuple[float, float]` -> that many values (`--betas 0.9 0.98`);
`tuple[int, ...]` -> comma-separated (`--student-layers 0,2,5`); a field that is itself a dataclass
adds its own fields' flags, with the defaults of the outer field; a field declared with
`field(..., metadata={"flags": False})` gets no flag (code sets it: the translator's Chinese encoder comes
with its preset).
"""
from __future__ import annotations

import argparse
import inspect
import re
import types
import typing
from dataclasses import MISSING, fields, is_dataclass, replace


def field_help(cls) -> dict[str, str]:
    """The trailing comment of each field of a dataclass (and of the dataclasses it extends)."""
    helps = {}
    for klass in reversed(cls.__mro__):
        if is_dataclass(klass) and klass is not object:
            helps.update(re.findall(r"^\s+(\w+): [^=]+=.*?#\s*(.+)$", inspect.getsource(klass), re.M))
    return helps


def add_dataclass_flags(parser, cls, skip=(), only=None, **defaults) -> None:
    """One flag per field of the dataclass `cls` (see the module docstring). `skip` or `only` name
    the fields left out or kept; `defaults` replaces the dataclass's defaults on this parser."""
    _add_flags(parser, cls, None, set(skip), only, defaults)


def dataclass_from_args(cls, args: argparse.Namespace, **extra):
    """`cls` built from parsed flags: each field with a flag takes its value, the others keep their
    default; `extra` sets fields directly (say `out_dir=args.out`)."""
    values = {k: v for k, v in _flag_values(cls, args, None).items() if k not in extra}
    return cls(**values, **extra)


def parse_settings(cls, description: str, argv=None, *, only=None, **defaults):
    """A script's settings: parse the command line into the dataclass `cls`. `only` names the fields
    that get a flag (default: all); `defaults` replaces the dataclass's defaults, flag or not:

        cfg = parse_settings(FinetuneConfig, __doc__, only=("lr", "epochs"), lr=1e-4, batch_size=16)
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_flags(parser, cls, only=only, **defaults)
    args = parser.parse_args(argv)
    return dataclass_from_args(cls, args, **{k: v for k, v in defaults.items() if not hasattr(args, k)})


def apply_preset(settings, preset, given: set[str]):
    """`settings` parsed from flags, on top of `preset` (an instance of the same dataclass): a field whose
    flag the user typed keeps its value, even when that value equals the default; every other field takes
    the preset's. `given` is `given_flags(args)`: which flags were typed, not which values differ."""
    return replace(settings, **{f.name: getattr(preset, f.name) for f in fields(settings) if f.name not in given})


def given_flags(args: argparse.Namespace) -> set[str]:
    """The fields whose flags were typed on the command line (recorded by the flags' actions)."""
    return set(getattr(args, GIVEN, ()))


GIVEN = "_flags_given"  # the Namespace attribute where the actions below record the flags typed


class _Store(argparse.Action):
    """argparse's plain store, also recording that the flag was typed."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        setattr(namespace, GIVEN, getattr(namespace, GIVEN, set()) | {self.dest})


class _StoreBool(argparse.BooleanOptionalAction):
    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, values, option_string)
        setattr(namespace, GIVEN, getattr(namespace, GIVEN, set()) | {self.dest})


def flat_fields(settings) -> dict:
    """Every field of a settings dataclass by its flag name, nested dataclasses flattened."""
    flat = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        flat.update(flat_fields(value) if is_dataclass(value) else {f.name: value})
    return flat


def changed_flags(settings, defaults) -> str:
    """The flags that turn `defaults` into `settings` (two instances of one dataclass): the part of
    a command line that reproduces a run."""
    default_values = flat_fields(defaults)
    words = []
    for name, value in flat_fields(settings).items():
        if value == default_values[name]:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            words.append(f"{flag} {','.join(map(str, value))}")
        elif value is not None:
            words.append(f"{flag} {value}")
    return " ".join(words)


def comma_separated(kind):
    """An argparse type: "0,2,5" -> (0, 2, 5)."""
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(x) for x in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"takes comma-separated {kind.__name__} values such as 0,2,5, "
                                             f"got {text!r}") from None
    return parse


# ---------------------------------------------------------------- inside

def _field_default(f, instance):
    """The default of field `f`: the declared one at the top level (not a value that __post_init__
    derived from other fields), the outer field's value inside a nested dataclass."""
    if instance is not None:
        return getattr(instance, f.name)
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else None


def _add_flags(parser, cls, instance, skip: set, only, defaults: dict) -> None:
    helps, hints = field_help(cls), typing.get_type_hints(cls)
    for f in fields(cls):
        if f.name in skip or f.metadata.get("flags") is False or (
                only is not None and f.name not in only and not is_dataclass(hints[f.name])):
            continue
        default = defaults.get(f.name, _field_default(f, instance))
        if is_dataclass(hints[f.name]):
            _add_flags(parser, hints[f.name], default, skip, only, defaults)
            continue
        text = helps.get(f.name, "").replace("%", "%%")  # argparse formats help with %
        flag = "--" + f.name.replace("_", "-")
        kind = _strip_optional(hints[f.name])
        if kind is not hints[f.name] and kind in (int, float):
            kind = _or_none(kind)  # `--train-limit none` sets None back
        if kind is bool:  # BooleanOptionalAction adds "(default: ...)" itself
            parser.add_argument(flag, action=_StoreBool, default=default, help=text)
            continue
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin is tuple and args[-1] is Ellipsis:  # typed, and shown, comma-separated
            shown = ",".join(map(str, default)) if default is not None else None
            parser.add_argument(flag, action=_Store, type=comma_separated(args[0]), default=default, metavar="A,B,...",
                                help=f"{text} (default: {shown})")
        elif origin is tuple:
            parser.add_argument(flag, action=_Store, type=args[0], nargs=len(args), default=default,
                                help=f"{text} (default: {' '.join(map(str, default))})")
        elif origin is typing.Literal:
            parser.add_argument(flag, action=_Store, type=type(args[0]), choices=args, default=default,
                                help=f"{text} (default: {default})")
        else:
            parser.add_argument(flag, action=_Store, type=kind, default=default, help=f"{text} (default: {default})")


def _flag_values(cls, args, instance) -> dict:
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):
        if f.metadata.get("flags") is False:  # set in code (say, by a preset), never from a flag
            continue
        if is_dataclass(hints[f.name]):
            nested = _field_default(f, instance)
            values[f.name] = replace(nested, **_flag_values(hints[f.name], args, nested))
        elif hasattr(args, f.name):
            value = getattr(args, f.name)
            is_tuple = typing.get_origin(_strip_optional(hints[f.name])) is tuple
            values[f.name] = tuple(value) if is_tuple and isinstance(value, list) else value  # nargs gives a list
    return values


def _or_none(kind):
    """An argparse type for an `int | None` or `float | None` field: the number, or None for "none"."""
    def parse(text: str):
        return None if text.lower() == "none" else kind(text)
    parse.__name__ = kind.__name__  # argparse names the type in its errors: "invalid int value"
    return parse


def _strip_optional(kind):
    """`X | None` -> X."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return kind
