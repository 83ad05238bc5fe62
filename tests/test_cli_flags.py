"""Settings dataclasses to flags and back: every kind of field, nested settings, reproducible commands."""
import argparse
from dataclasses import dataclass, field
from typing import Literal

import pytest

from minidistil.cli.flags import add_dataclass_flags, changed_flags, dataclass_from_args, flat_fields, parse_settings


@dataclass
class Inner:
    rate: float = 0.15           # a share, 15% by default
    smooth: float = 0.0          # 0: off


@dataclass
class Outer:
    steps: int = 100             # optimizer steps
    name: str | None = None      # a name, or none
    fast: bool = True            # take the fast path
    mode: Literal["a", "b"] = "a"  # one of two modes
    betas: tuple[float, float] = (0.9, 0.98)  # two numbers
    layers: tuple[int, ...] | None = None  # comma-separated layers
    inner: Inner = field(default_factory=lambda: Inner(smooth=0.7))
    derived: int | None = None   # None: steps // 4

    def __post_init__(self):
        if self.derived is None:
            self.derived = self.steps // 4


def test_every_kind_of_field_becomes_a_flag_and_comes_back():
    s = parse_settings(Outer, "doc", ["--steps", "8", "--name", "x", "--no-fast", "--mode", "b",
                                      "--betas", "0.5", "0.6", "--layers", "0,2,5", "--rate", "0.3"])
    assert s == Outer(steps=8, name="x", fast=False, mode="b", betas=(0.5, 0.6), layers=(0, 2, 5),
                      inner=Inner(rate=0.3, smooth=0.7), derived=2)


def test_defaults_are_the_declared_ones_and_a_nested_field_keeps_its_outer_default():
    s = parse_settings(Outer, "doc", ["--steps", "40"])
    assert s.inner.smooth == 0.7 and s.derived == 10  # derived from --steps, not from the default 100


def test_every_flag_has_its_fields_comment_as_help(capsys):
    parser = argparse.ArgumentParser()
    add_dataclass_flags(parser, Outer, skip={"name"}, steps=7)
    text = parser.format_help()
    assert "--name" not in text and "optimizer steps (default: 7)" in text and "15%" in text
    with pytest.raises(SystemExit):
        parser.parse_args(["--layers", "0,x"])
    assert "takes comma-separated int values" in capsys.readouterr().err


def test_only_keeps_the_named_fields_and_extra_sets_fields_directly():
    parser = argparse.ArgumentParser()
    add_dataclass_flags(parser, Outer, only=("steps",))
    assert {a.dest for a in parser._actions} == {"help", "steps"}  # nested fields too are left out
    assert dataclass_from_args(Outer, parser.parse_args([]), name="set").name == "set"


def test_the_changed_flags_reproduce_a_run():
    changed = Outer(steps=8, fast=False, layers=(0, 5), inner=Inner(rate=0.3, smooth=0.7))
    flags = changed_flags(changed, Outer())
    assert flags == "--steps 8 --no-fast --layers 0,5 --rate 0.3 --derived 2"
    assert parse_settings(Outer, "doc", flags.split()) == changed
    assert flat_fields(Outer())["smooth"] == 0.7
