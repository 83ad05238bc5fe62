"""One build pattern for every default model: a settings record, a build that runs the steps, a folder
named by the settings' hash, built once per machine into the data cache and reused.

Each default model (the English teacher and student, the Chinese encoder and student, the translator
and the distilled translator) is one `DefaultModel` record, registered by the recipe module that
builds it:

    name        `pretrained.<name>_dir()` returns its folder
    settings    its default settings: a `BuildSettings` (the shared training fields declared once)
    folder      settings -> its folder under the cache, ending in `settings.key()`
    run         run(settings, work, progress=, device=, **upstream): the steps, written into `work`
    needs       settings -> {keyword: (model name, its settings) or a function giving a folder}: what it
                is built from; each is built first (the same way) and handed to `run` by keyword
    estimate    (settings, **upstream) -> bytes the build writes: the disk is checked before it starts
    rebuild     the command that rebuilds it, for the one-sentence errors of a damaged folder

`build(name, settings)` is the pattern: the finished folder when there is one; otherwise the
upstream models first, then `run` into `<folder>.partial` under `minidistil.utils.builds`' rules
(one builder at a time, resume from the checkpoint after a kill, a manifest written last, renamed into
place when complete). Adding a default model is one module with its settings, its `run` and one
`register`, and one `pretrained.<name>_dir`.

    >>> defaults.build("teacher")                       # = pretrained.teacher_dir()
    PosixPath('~/.cache/minidistil/teachers/minilm-mlm-f248dab7/model')
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from minidistil.nn.checkpoint import MODEL_DIR
from minidistil.training.train import TrainSettings
from minidistil.utils import builds
from minidistil.utils.cache import cache_dir


@dataclass(frozen=True)
class BuildSettings(TrainSettings):
    """The fields every default model's settings share (`TrainSettings`: lr, batch_size, seed, bf16; and
    the step budget), and the key that names its folder. A model's settings extend it with their own
    fields and defaults, and say in `key_inputs` what else the build reads."""
    max_steps: int = 1000            # optimizer steps of the build's training

    def key_inputs(self) -> dict:
        """What the build depends on besides these fields: a pinned package's sha256, an upstream model's
        key (which then replaces that upstream's nested settings in the hash)."""
        return {}

    def key_fields(self) -> dict:
        """The fields the key hashes: all of them, unless a model's settings leave out a field added
        after its builds were cached, while that field holds its default (so their keys stand)."""
        return asdict(self)

    def key(self) -> str:
        """Eight hex digits naming these settings and what the build reads (its cache folder)."""
        text = json.dumps({**self.key_fields(), **self.key_inputs()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class DefaultModel:
    """One default model (see the module docstring for each field)."""
    name: str
    settings: BuildSettings
    folder: Callable[[BuildSettings], str]
    run: Callable[..., object]
    rebuild: str
    needs: Callable[[BuildSettings], dict] = lambda settings: {}
    estimate: Callable[..., float] = lambda settings, **upstream: 1.0e9


MODELS: dict[str, DefaultModel] = {}


def register(model: DefaultModel) -> DefaultModel:
    MODELS[model.name] = model
    return model


def get(name: str) -> DefaultModel:
    if name not in MODELS:
        raise ValueError(f"no default model named {name!r}; the default models are {sorted(MODELS)}")
    return MODELS[name]


def root(name: str, settings: BuildSettings | None = None) -> Path:
    """The cache folder of `name` built with `settings` (its model is `root / "model"`)."""
    model = get(name)
    return cache_dir() / model.folder(settings if settings is not None else model.settings)


def built_from(name: str, settings: BuildSettings, **build_options) -> dict[str, Path]:
    """The folders `name` with `settings` is built from (its `needs`), each built first when absent."""
    return {keyword: source() if callable(source) else build(*source, **build_options)
            for keyword, source in get(name).needs(settings).items()}


def build(name: str, settings: BuildSettings | None = None, *, no_wait: bool = False, progress: bool = True,
          device: str = "cpu", keep_checkpoints: bool = False) -> Path:
    """The model folder of default model `name` with `settings` (default: its default settings), built
    into the cache once per machine, with what it is built from, and reused by every later call.
    `keep_checkpoints`: keep this build's resume checkpoints once it is complete."""
    model = get(name)
    settings = settings if settings is not None else model.settings
    where = root(name, settings)
    if builds.finished(where, rebuild=model.rebuild):
        return where / MODEL_DIR
    upstream = built_from(name, settings, no_wait=no_wait, progress=progress, device=device)
    with builds.entry(where, estimate_bytes=model.estimate(settings, **upstream), no_wait=no_wait,
                      keep_checkpoints=keep_checkpoints, rebuild=model.rebuild, what=f"the {name.replace('_', ' ')} in {where}") as work:
        if work is not None:
            model.run(settings, work, progress=progress, device=device, **upstream)
    return where / MODEL_DIR
