"""The Stage contract and the stage registry.

A stage is a small class (after NeMo Curator's processing stages): a ``name``, the ``resources``
one worker needs, a ``batch_size`` (records per ``process`` call), a typed ``Config``, ``setup()``
that loads models once per worker, and ``process(batch) -> batch``. Records in, records out:

- a stage sees only records whose ``kind`` is in ``kinds`` and that are still ``ok``; the runner
  passes every other record through untouched;
- for every input it returns the input itself (possibly rejected or updated) and/or children whose
  ``parent_id`` is the input's id (a clip of an input file, the edits of a clip);
- it never raises on a bad sample: it calls ``record.reject(stage, reason, message)``. Exceptions
  are for bugs and for a misconfigured run, and stop the build.

``is_global = True`` marks a *global* stage that needs every record at once (dedup): its one
``process`` call gets every record it accepts, and its ``batch_size`` is not used. Every other stage
is per-record: its output for a record depends on that record alone, so the runner may cut the
records into batches of ``batch_size`` (a positive int) and run them anywhere, in any order.

``requires`` and ``produces`` declare what a stage needs from the stages before it and what it adds,
so a whole pipeline is checked when its config loads, before any work: a record kind (``"clip"``),
or ``"<kind>.<name>"`` for a field or artifact that records of that kind carry (``"clip.video"``).
The sources give ``"input"``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..faults import raise_if_machine_fault
from ..schema import Provenance, Record, content_id


@dataclass(frozen=True)
class Resources:
    """What one worker of a stage needs; the Ray runner turns this into actor options."""

    cpus: float = 1.0
    gpus: float = 0.0
    gpu_memory_gb: float = 0.0


class SampleError(Exception):
    """A bad sample: the stage rejects the record with ``reason`` instead of stopping the build.

    Any exception with a string ``reason`` attribute is treated the same way (``VideoError``,
    a VLM's malformed answer), so backends need not import this class.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ConfigError(ValueError):
    """A bad build config; the message names the field (``stages.dedup.threshold``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"config field {field!r}: {message}")
        self.field = field
        self.detail = message

    def under(self, prefix: str) -> ConfigError:
        """The same error for the field as the whole config names it (``stages.dedup.`` + field)."""
        return ConfigError(f"{prefix}{self.field}", self.detail)


@dataclass
class StageConfig:
    """Base of every stage's config. Subclasses add typed fields with defaults.

    ``backends`` lists the backend names a stage knows; ``validate`` checks ranges and raises
    :class:`ConfigError` naming the field (the loader prefixes it with ``stages.<stage>.``).
    """

    backend: str = "cpu"
    enabled: bool = True

    def validate(self) -> None:
        """Check ranges; raise ConfigError(field, message). The backend name is checked by the loader."""


@dataclass
class ModelStageConfig(StageConfig):
    """Config of a stage with model backends: which weights, where and in what precision.

    ``model`` is a local path or a Hub id (never downloaded at build time unless the user's
    environment allows it); ``device`` ``auto`` picks CUDA when present.
    """

    model: str | None = None
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"  # auto: bfloat16 on GPU, float32 on CPU
    batch_size: int = 1


@dataclass
class StageContext:
    """What a stage instance knows of the build it runs in."""

    out_dir: Path
    work_dir: Path  # this stage's artifact folder (keyed by its fingerprint)
    fingerprint: str  # this stage's config fingerprint (chained with the stages before it)
    config_hash: str  # hash of this stage's own config
    seed: int = 0

    def relpath(self, path: str | Path) -> str:
        """A path relative to the build's output folder, as records store artifacts."""
        return Path(path).relative_to(self.out_dir).as_posix()

    def sample_seed(self, record_id: str) -> int:
        """The seed of one sample's generative work: from (build seed, record id), so samples of one
        shape start from different noise, and a rerun or another worker order gives the same."""
        return sample_seed(self.seed, record_id)

    def artifact_path(self, name: str) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self.work_dir / name


class Stage:
    """Base class of every pipeline stage. See the module docstring for the contract."""

    name: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]] = ()  # record kinds this stage processes
    requires: ClassVar[frozenset[str]] = frozenset()  # what stages before it must have made
    produces: ClassVar[frozenset[str]] = frozenset()  # what it adds (kinds, "<kind>.<field or artifact>")
    resources: ClassVar[Resources] = Resources()
    batch_size: ClassVar[int] = 1  # records per process() call of a per-record stage
    is_global: ClassVar[bool] = False  # True: one process() call over every record (see the module docstring)
    Config: ClassVar[type[StageConfig]] = StageConfig
    version: ClassVar[int] = 1  # bump when a change of code must invalidate finished work
    #: backend name -> "module:Class", imported only when chosen (model backends pull in torch,
    #: transformers, diffusers). A backend class subclasses the stage's ``family``, is built with the
    #: stage config and may declare its own ``resources``.
    backends: ClassVar[dict[str, str]] = {}
    #: The class every backend of this stage subclasses (one of :mod:`ditto_data.models.families`, or
    #: a plugin's own subclass of their ``Backend``), so the stage reads a backend's capabilities as
    #: attributes and a backend of another kind is refused; None only for a stage without backends.
    family: ClassVar[type | None] = None
    backend: Any = None  # the configured backend, once make_backend() has built it

    @classmethod
    def backend_class(cls, config: StageConfig) -> type:
        """The configured backend's class; a :class:`ConfigError` when it is not of the stage's family."""
        spec = cls.backends[config.backend]
        backend = import_object(spec)
        if cls.family is not None and not (isinstance(backend, type) and issubclass(backend, cls.family)):
            family = f"{cls.family.__module__}.{cls.family.__qualname__}"
            raise ConfigError("backend", f"backend {config.backend!r} ({spec}) is not a {cls.family.__name__}: "
                              f"every {cls.name!r} backend subclasses {family}")
        return backend

    @classmethod
    def resources_for(cls, config: StageConfig) -> Resources:
        """The stage's resources, or its chosen backend's where that declares them."""
        if config.backend in cls.backends:
            return cls.backend_class(config).resources or cls.resources
        return cls.resources

    def make_backend(self) -> Any:
        """Build the configured backend; it is kept as ``self.backend`` so provenance can name it."""
        self.backend = self.backend_class(self.config)(self.config)
        return self.backend

    def __init__(self, config: StageConfig, ctx: StageContext):
        self.config = config
        self.ctx = ctx

    def setup(self) -> None:
        """Load models or other heavy state; called once per worker before the first batch.

        By default: build the configured backend (``self.backend``) and let it load its weights.
        """
        if self.backends:
            self.make_backend().setup()

    def process(self, batch: list[Record]) -> list[Record]:
        """Each record through :meth:`process_record`, inside :meth:`rejecting`: the batch loop and the
        rejection handling every per-record stage needs, written once. Children a record gives
        follow it. A stage that works across the batch (a global stage) overrides this instead."""
        out: list[Record] = []
        for r in batch:
            out.append(r)
            with self.rejecting(r):
                out.extend(self.process_record(r) or ())
        return out

    def process_record(self, record: Record) -> list[Record] | None:
        """One record's work: update ``record`` in place, raise an exception with a ``reason`` to
        reject it, or return its children (a clip's edits)."""
        raise NotImplementedError(f"stage {self.name!r} implements neither process nor process_record")

    @contextlib.contextmanager
    def rejecting(self, record: Record):
        """Run one record's work; an exception with a ``reason`` rejects the record and is swallowed.

        Everything else (bugs, a misconfigured run) propagates and stops the build, and so does the
        machine's fault (a full disk, a killed child: :mod:`ditto_data.faults`) whatever its
        ``reason``, so that it never reaches the ledger as the sample's fault.
        """
        try:
            yield
        except Exception as e:
            self.not_the_machine(e)
            reason = getattr(e, "reason", None)
            if not isinstance(reason, str):
                raise
            message = str(e) if record.id in str(e) else f"{record.id}: {e}"
            record.reject(self.name, reason, message)

    def not_the_machine(self, exc: BaseException) -> None:
        """Raise :class:`~ditto_data.faults.MachineFault` if ``exc`` is the machine's fault; call it
        before rejecting a record for an exception caught by hand."""
        raise_if_machine_fault(exc, self.ctx.out_dir)

    def accepts(self, record: Record) -> bool:
        return record.ok and record.kind in self.kinds

    def provenance(self, model: str | None = None, revision: str | None = None, seed: int | None = None,
                   **extra: Any) -> Provenance:
        """Provenance for an artifact made by this stage with its configured backend.

        A model backend's ``model_info`` (model id, revision, dtype, prompt hashes, and the backend
        really used after a fallback) fills what the caller leaves out.
        """
        info = dict(self.backend.model_info) if self.backend is not None else {}
        return Provenance(stage=self.name, backend=info.pop("backend", self.config.backend),
                          config_hash=self.ctx.config_hash, model=model or info.pop("model", None),
                          revision=revision or info.pop("revision", None), seed=seed,
                          extra={**{k: v for k, v in info.items() if k not in ("model", "revision")}, **extra})


def sample_seed(build_seed: int, record_id: str) -> int:
    """A 31-bit seed from (build seed, record id): fits every RNG (numpy, torch, CUDA)."""
    return int(content_id(str(build_seed), record_id), 16) % (2**31)


def import_object(spec: str) -> Any:
    """``"package.module:Name"`` -> the object."""
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


# ----------------------------------------------------------------------------------------------
# Registry

_REGISTRY: dict[str, type[Stage]] = {}


def register_stage(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available to configs by its ``name``.

    A ``batch_size`` that is not a positive int is refused here, when the stage's module is imported
    (a plugin's error is then a config error naming the plugin); ``batch_size = None``, the old way
    to mark a global stage, is refused with the new one in the message; so is a stage that names
    backends but not the family they subclass.
    """
    size = cls.batch_size
    if size is None:
        raise TypeError(f"stage {cls.name!r} declares batch_size = None; a global stage now declares "
                        f"is_global = True (and no batch_size)")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise TypeError(f"stage {cls.name!r}: batch_size must be a positive int, not {size!r}")
    if cls.backends and cls.family is None:
        raise TypeError(f"stage {cls.name!r} names backends but no family: set its `family` to the class they "
                        "subclass (ditto_data.models.families)")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two stages named {cls.name!r}: {_REGISTRY[cls.name]} and {cls}")
    _REGISTRY[cls.name] = cls
    return cls


def get_stage(name: str) -> type[Stage]:
    _load_builtin_stages()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def registered_stages() -> dict[str, type[Stage]]:
    _load_builtin_stages()
    return dict(_REGISTRY)


#: The package whose modules register the built-in stages. Named, not imported at the top: the
#: contract sits below the stages, and finds them the way it finds a user's plugin stages.
BUILTIN_STAGES = "ditto_data.stages"


def _load_builtin_stages() -> None:
    importlib.import_module(BUILTIN_STAGES).load_stages()


# ----------------------------------------------------------------------------------------------
# Fingerprints


def config_hash(config: StageConfig) -> str:
    blob = json.dumps(dataclasses.asdict(config), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def fingerprint(stage: type[Stage], config: StageConfig, upstream: str, seed: int) -> str:
    """Chained: a change to this stage's config or any stage before it changes this value."""
    blob = f"{stage.name}|v{stage.version}|{config_hash(config)}|{seed}|{upstream}"
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
