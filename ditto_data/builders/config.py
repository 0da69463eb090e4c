"""The build config: a YAML file for everything ``ditto-data build`` does besides input and output.

Validated completely before any work starts; every error names the field it is about::

    seed: 0
    workers: 2
    executor: local          # or ray
    pipeline: [standardize, features, dedup, motion, depth, caption, instruction, keyframe_edit, generate, judge, enhance]
    stages:
      dedup: {threshold: 0.95}
      instruction: {edits_per_source: 2}
    export: {shard_size: 1000}
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import layout
from .stage import ConfigError, StageConfig, get_stage, registered_stages

DEFAULT_PIPELINE: tuple[str, ...] = (
    "standardize", "features", "dedup", "motion", "depth", "caption", "instruction",
    "keyframe_edit", "generate", "judge", "enhance",
)  # fmt: skip

__all__ = ["BuildConfig", "ConfigError", "ExportConfig", "DEFAULT_PIPELINE", "load_config"]


@dataclass
class ExportConfig:
    shard_size: int = layout.SHARD_SIZE
    keep_reference_image: bool = False  # add vace_reference_image to the DiffSynth CSVs
    license: str = "other"  # the card's license id: set it to what the input videos allow

    def validate(self) -> None:
        if self.shard_size < 1:
            raise ConfigError("shard_size", "must be at least 1")


@dataclass
class BuildConfig:
    seed: int = 0
    workers: int = 0  # 0: one per CPU core
    executor: str = "local"
    ray_address: str | None = None
    pipeline: list[str] = field(default_factory=lambda: list(DEFAULT_PIPELINE))
    stages: dict[str, StageConfig] = field(default_factory=dict)
    export: ExportConfig = field(default_factory=ExportConfig)

    def stage_config(self, name: str) -> StageConfig:
        if name not in self.stages:
            self.stages[name] = get_stage(name).Config()
        return self.stages[name]

    def active_stages(self) -> list[str]:
        return [n for n in self.pipeline if self.stage_config(n).enabled]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "workers": self.workers, "executor": self.executor,
            "ray_address": self.ray_address, "pipeline": list(self.pipeline),
            "stages": {n: dataclasses.asdict(self.stage_config(n)) for n in self.pipeline},
            "export": dataclasses.asdict(self.export),
        }  # fmt: skip


def load_config(source: str | Path | dict[str, Any] | None = None, **overrides: Any) -> BuildConfig:
    """Parse and validate a config from a YAML path, a dict, or nothing (all defaults).

    Keyword overrides replace top-level fields (the CLI's ``--workers`` and ``--executor``).
    """
    if source is None:
        raw: dict[str, Any] = {}
    elif isinstance(source, dict):
        raw = dict(source)
    else:
        try:
            raw = yaml.safe_load(Path(source).read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError("<file>", f"{source} is not valid YAML: {e}") from None
        except OSError as e:
            raise ConfigError("<file>", f"cannot read {source}: {e.strerror}") from None
        if not isinstance(raw, dict):
            raise ConfigError("<file>", f"{source} must hold a mapping at top level")
    raw.update({k: v for k, v in overrides.items() if v is not None})

    stages_raw = raw.pop("stages", None) or {}
    export_raw = raw.pop("export", None) or {}
    cfg = _build(BuildConfig, raw, "")
    if cfg.executor not in ("local", "ray"):
        raise ConfigError("executor", f"{cfg.executor!r} is not one of local, ray")
    if cfg.workers < 0:
        raise ConfigError("workers", "must be 0 (auto) or more")

    known = registered_stages()
    for name in cfg.pipeline:
        if name not in known:
            raise ConfigError("pipeline", f"unknown stage {name!r}; known: {', '.join(sorted(known))}")
    if not isinstance(stages_raw, dict):
        raise ConfigError("stages", "must be a mapping of stage name to its settings")
    for name, sraw in stages_raw.items():
        if name not in known:
            raise ConfigError(f"stages.{name}", f"unknown stage; known: {', '.join(sorted(known))}")
        if sraw is False:
            sraw = {"enabled": False}
        if not isinstance(sraw, dict):
            raise ConfigError(f"stages.{name}", "must be a mapping of settings (or false to disable)")
        scfg = _build(known[name].Config, sraw, f"stages.{name}.")
        if known[name].backends and scfg.backend not in known[name].backends:
            raise ConfigError(f"stages.{name}.backend",
                              f"{scfg.backend!r} is not one of {', '.join(known[name].backends)}")
        cfg.stages[name] = scfg
    for name in cfg.pipeline:
        cfg.stage_config(name)
    cfg.export = _build(ExportConfig, export_raw, "export.")
    return cfg


def _build(cls: type, raw: dict[str, Any], prefix: str) -> Any:
    """Instantiate a config dataclass from a mapping, checking names and types; validate ranges."""
    if not isinstance(raw, dict):
        raise ConfigError(prefix.rstrip(".") or "<file>", "must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in raw.items():
        if key not in names:
            raise ConfigError(f"{prefix}{key}", f"unknown field; known: {', '.join(sorted(names))}")
        if key in ("stages", "export") and cls is BuildConfig:
            continue
        kwargs[key] = _check_type(value, hints[key], f"{prefix}{key}")
    obj = cls(**kwargs)
    if hasattr(obj, "validate"):
        try:
            obj.validate()
        except ConfigError as e:
            raise ConfigError(f"{prefix}{e.field}", str(e).split(": ", 1)[1]) from None
    return obj


def _check_type(value: Any, tp: Any, name: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            try:
                return _check_type(value, arg, name)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(name, f"expected {_type_name(tp)}, got {value!r}")
    if tp is type(None):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin in (list, tuple) or tp in (list, tuple):
        if isinstance(value, (list, tuple)):
            args = typing.get_args(tp)
            return [_check_type(v, args[0], f"{name}[{i}]") for i, v in enumerate(value)] if args else list(value)
    elif origin is dict or tp is dict:
        if isinstance(value, dict):
            return dict(value)
    elif tp is Any:
        return value
    else:
        return value
    raise ConfigError(name, f"expected {_type_name(tp)}, got {value!r}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")
