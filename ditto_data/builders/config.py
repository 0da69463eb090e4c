"""The build config: a YAML file for everything ``ditto-data build`` does besides input and output.

Validated completely before any work starts; every error names the field it is about::

    seed: 0
    workers: 2
    executor: local          # or ray
    pipeline: [standardize, features, dedup, motion, depth, caption, instruction, keyframe_edit, generate, judge, enhance]
    plugins: [my_lab.stages, ./stages/loudness.py]   # modules (or files) whose stages the pipeline may name
    stages:
      dedup: {threshold: 0.95}
      instruction: {edits_per_source: 2}
    export: {shard_size: 1000}
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import math
import sys
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

__all__ = ["BuildConfig", "ConfigError", "ConfigErrors", "ExportConfig", "DEFAULT_PIPELINE", "load_config"]


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
    plugins: list[str] = field(default_factory=list)  # modules or .py files that register stages
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
            **({"plugins": list(self.plugins)} if self.plugins else {}),
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

    errors: list[ConfigError] = []
    stages_raw = raw.pop("stages", None) or {}
    export_raw = raw.pop("export", None) or {}
    cfg = _build(BuildConfig, raw, "", errors)
    if cfg.executor not in ("local", "ray"):
        errors.append(ConfigError("executor", f"{cfg.executor!r} is not one of local, ray"))
    base = Path(source).parent if isinstance(source, (str, Path)) else Path.cwd()
    for i, plugin in enumerate(cfg.plugins):
        try:
            import_plugin(plugin, base)
        except Exception as e:  # noqa: BLE001 - any failure to import is the config's error, named
            errors.append(ConfigError(f"plugins[{i}]", f"cannot import {plugin!r}: {type(e).__name__}: {e}"))

    known = registered_stages()
    unknown = [n for n in cfg.pipeline if n not in known]
    for name in unknown:
        errors.append(ConfigError("pipeline", f"unknown stage {name!r}; known: {', '.join(sorted(known))}"))
    cfg.pipeline = [n for n in cfg.pipeline if n in known]
    if not isinstance(stages_raw, dict):
        errors.append(ConfigError("stages", "must be a mapping of stage name to its settings"))
        stages_raw = {}
    for name, sraw in stages_raw.items():
        if name not in known:
            errors.append(ConfigError(f"stages.{name}", f"unknown stage; known: {', '.join(sorted(known))}"))
            continue
        if sraw is False:
            sraw = {"enabled": False}
        if not isinstance(sraw, dict):
            errors.append(ConfigError(f"stages.{name}", "must be a mapping of settings (or false to disable)"))
            continue
        scfg = _build(known[name].Config, sraw, f"stages.{name}.", errors)
        if known[name].backends and scfg.backend not in known[name].backends:
            errors.append(ConfigError(f"stages.{name}.backend",
                                      f"{scfg.backend!r} is not one of {', '.join(known[name].backends)}"))
        elif known[name].backends and scfg.enabled:
            errors.extend(backend_errors(known[name], scfg, f"stages.{name}."))
        cfg.stages[name] = scfg
    cfg.export = _build(ExportConfig, export_raw, "export.", errors)
    if not errors:
        errors.extend(pipeline_errors(cfg, known))
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    for name in cfg.pipeline:
        cfg.stage_config(name)
    return cfg


def import_plugin(spec: str, base: Path) -> None:
    """Import a user's stage module (its ``@register_stage`` classes register themselves): a dotted
    module name, or a ``.py`` file (relative to the config file's folder)."""
    if not spec.endswith(".py"):
        importlib.import_module(spec)
        return
    path = (base / spec).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    name = f"ditto_plugin_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def backend_errors(stage: type, scfg: StageConfig, prefix: str) -> list[ConfigError]:
    """The configured backend imported and checked against the stage's family, so that a user's plugin
    backend of another kind is refused before any work."""
    try:
        stage.backend_class(scfg)
    except ConfigError as e:
        return [e.under(prefix)]
    except Exception as e:  # noqa: BLE001 - any failure to import is the config's error, named
        return [ConfigError(f"{prefix}backend", f"cannot import {stage.backends[scfg.backend]!r}: "
                            f"{type(e).__name__}: {e}")]
    return []


def pipeline_errors(cfg: BuildConfig, known: dict[str, type]) -> list[ConfigError]:
    """The pipeline's shape checked against what each stage ``requires`` and ``produces``: a stage
    listed twice, or one whose inputs no stage before it makes, is an error naming both."""
    makers: dict[str, list[str]] = {}
    for name, stage in known.items():
        for what in stage.produces:
            makers.setdefault(what, []).append(name)
    errors: list[ConfigError] = []
    have = {"input"}  # what the sources give
    listed: set[str] = set()
    for name in cfg.pipeline:
        if name in listed:
            errors.append(ConfigError("pipeline", f"stage {name!r} is listed twice"))
        listed.add(name)
    for name in cfg.active_stages():
        stage = known[name]
        for what in sorted(stage.requires - have):
            by = sorted(makers.get(what, []))
            hint = f"made by {' or '.join(repr(m) for m in by)}: put it before {name!r}" if by else "no stage makes it"
            errors.append(ConfigError("pipeline", f"stage {name!r} needs {what!r}, which no stage before it "
                                      f"makes ({hint})"))
        have |= stage.produces
    return errors


class ConfigErrors(ConfigError):
    """Several config errors, all reported at once (``errors``); ``field`` is the first one's."""

    def __init__(self, errors: list[ConfigError]):
        ValueError.__init__(self, f"{len(errors)} errors:\n" + "\n".join(f"  {e}" for e in errors))
        self.field = errors[0].field
        self.errors = errors


#: Bounds of numeric fields by name, wherever they appear (any stage, model options, export):
#: name -> (lowest, highest, whether the lowest itself is allowed). Values outside are a config
#: error at load time, never per-sample rejections. None (unset) is always allowed.
FIELD_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "width": (0, 8192, False), "height": (0, 8192, False), "fps": (0, 240, False),
    "num_frames": (1, 100_000, True), "max_clips": (1, 10_000, True), "gop": (1, 100_000, True),
    "threads": (1, 1024, True), "workers": (0, 4096, True), "frames": (1, 10_000, True),
    "pairs": (1, 10_000, True), "num_keyframes": (1, 10_000, True), "edits_per_source": (1, 1000, True),
    "max_pixels": (1, 8192 * 8192, True), "max_new_tokens": (1, 1_000_000, True), "max_retries": (0, 100, True),
    "steps": (1, 10_000, True), "total_steps": (1, 10_000, True), "temperature": (0, 100, True),
    "guidance_scale": (0, 1000, True), "true_cfg_scale": (0, 1000, True), "conditioning_scale": (0, 1000, True),
    "shard_size": (1, 10**9, True), "batch_size": (1, 100_000, True), "nprobe": (1, 10**6, True),
    "nlist": (1, 10**7, True), "thumb_size": (2, 1024, True), "chroma_size": (1, 1024, True),
    "work_width": (32, 8192, True), "grid": (1, 1024, True), "window": (3, 10_000, True),
}  # fmt: skip


def _bound_error(name: str, value: Any) -> str | None:
    if name not in FIELD_BOUNDS or not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    lo, hi, lo_ok = FIELD_BOUNDS[name]
    if (value < lo if lo_ok else value <= lo) or value > hi:
        return f"must be {'at least' if lo_ok else 'above'} {lo:,} and at most {hi:,}, got {value!r}"
    return None


def _build(cls: type, raw: dict[str, Any], prefix: str, errors: list[ConfigError]) -> Any:
    """Instantiate a config dataclass from a mapping, checking names, types and bounds, then its own
    ``validate``; every error goes to ``errors`` (the field is left at its default) so that one run
    of the loader reports them all."""
    if not isinstance(raw, dict):
        errors.append(ConfigError(prefix.rstrip(".") or "<file>", "must be a mapping"))
        raw = {}
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            errors.append(ConfigError(f"{prefix}{key}", f"unknown field; known: {', '.join(sorted(fields))}"))
            continue
        if key in ("stages", "export") and cls is BuildConfig:
            continue
        try:
            value = _check_type(value, hints[key], f"{prefix}{key}")
        except ConfigError as e:
            errors.append(e)
            continue
        why = _bound_error(key, value)
        if why:
            errors.append(ConfigError(f"{prefix}{key}", why))
            continue
        kwargs[key] = value
    obj = cls(**kwargs)
    # validate() stops at its first error: put that field back to its default and ask again, so
    # the errors of every field are found in one load
    for _ in range(len(fields) + 1):
        try:
            obj.validate() if hasattr(obj, "validate") else None
            break
        except ConfigError as e:
            errors.append(e.under(prefix))
            f = fields.get(e.field.split("[", 1)[0])
            if f is None or getattr(obj, f.name) == _default(f):
                break
            setattr(obj, f.name, _default(f))
    return obj


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _check_type(value: Any, tp: Any, name: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            try:
                return _check_type(value, arg, name)
            except ConfigError as e:
                errors.append(e)
        finite = [e for e in errors if "finite" in e.detail]
        if finite:
            raise ConfigError(name, finite[0].detail)
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
            if not math.isfinite(value):
                raise ConfigError(name, f"must be a finite number, got {value!r}")
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
