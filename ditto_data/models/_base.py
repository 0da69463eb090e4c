"""What every model backend shares: device and dtype choice, loading once, seeds, provenance facts."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from ..builders.stage import Resources
from .families import Backend
from .options import offload_mode

log = logging.getLogger(__name__)

_DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
           "float16": "float16", "fp16": "float16"}  # fmt: skip


class BackendError(RuntimeError):
    """A backend could not load or run its model (misconfiguration: stops the build)."""


def resolve_device(name: str | None) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; anything else is taken as given."""
    import torch

    if name in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def resolve_dtype(name: str | None, device: str):  # -> torch.dtype
    """``auto`` -> bfloat16 on GPU, float32 on CPU (CPU kernels in half precision are slow or missing)."""
    import torch

    if name in (None, "", "auto"):
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return getattr(torch, _DTYPES[name])
    except KeyError:
        raise BackendError(f"dtype {name!r} is not one of auto, {', '.join(sorted(set(_DTYPES.values())))}") from None


def generator(device: str, seed: int):  # -> torch.Generator
    """A seeded generator on the device the model runs on (diffusers samples noise there)."""
    import torch

    return torch.Generator(device="cpu" if device == "cpu" else device).manual_seed(int(seed))


def torch_device_index(device: str) -> int | None:
    return int(device.split(":", 1)[1]) if ":" in device else None


def sample_indices(num_frames: int, count: int) -> list[int]:
    """``count`` evenly spaced frame indices over ``num_frames`` (all of them when fewer)."""
    if num_frames <= 0:
        return []
    if count >= num_frames:
        return list(range(num_frames))
    return np.linspace(0, num_frames - 1, count).round().astype(int).tolist()


def check_frames(frames: np.ndarray, what: str = "frames") -> np.ndarray:
    """Frames must be uint8 ``[T, H, W, 3]`` with T >= 1; a clear error otherwise."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1 or frames.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8 [T, H, W, 3], got {frames.dtype} {tuple(frames.shape)}")
    return frames


class ModelBackend(Backend):
    """Base of the model backends: a config, lazy one-time loading and provenance facts.

    A model backend subclasses this and its family (:mod:`.families`), sets ``default_model`` (the
    paper's checkpoint on the Hub) and ``resources``, and implements ``_load()``. Every public
    method calls ``self.ensure_loaded()``, so a stage that forgets ``setup()`` still works, loading
    on first use.
    """

    default_model: ClassVar[str] = ""
    resources: ClassVar[Resources] = Resources()

    def __init__(self, config: Any):
        super().__init__(config)
        self.model_id: str = getattr(config, "model", None) or self.default_model
        self.revision: str | None = getattr(config, "revision", None)
        self.batch_size: int = max(1, int(getattr(config, "batch_size", 1) or 1))
        self.device: str | None = None
        self.dtype = None
        self._loaded = False

    def option(self, name: str, default: Any) -> Any:
        """A stage-specific config field (``steps``, ``frames`` ...) with the backend's default."""
        value = getattr(self.config, name, None)
        return default if value is None else value

    def setup(self) -> None:
        """Load the weights once per worker."""
        if self._loaded:
            return
        self.device = resolve_device(getattr(self.config, "device", "auto"))
        self.dtype = resolve_dtype(getattr(self.config, "dtype", "auto"), self.device)
        log.info("%s: loading %s (revision %s) on %s as %s", type(self).__name__, self.model_id,
                 self.revision or "default", self.device, str(self.dtype).replace("torch.", ""))
        try:
            self._load()
        except OSError as e:  # missing folder / not on the Hub / offline
            raise BackendError(f"{type(self).__name__}: cannot load model {self.model_id!r}: {e}") from e
        self._loaded = True

    def ensure_loaded(self) -> None:
        if not self._loaded:
            self.setup()

    def _load(self) -> None:
        raise NotImplementedError

    def pretrained_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if self.revision:
            kw["revision"] = self.revision
        return kw

    def place(self, pipe: Any) -> Any:
        """Put a diffusers pipeline on the device as ``offload`` asks, with VAE tiling where asked; quiet.

        ``offload``: ``none`` (everything on the device), ``model`` (one component at a time) or
        ``sequential`` (one layer at a time). Offload and tiling are GPU memory savers: on a CPU
        run they are ignored.
        """
        mode = offload_mode(self.option("offload", "none"))
        if mode != "none" and self.device.startswith("cuda"):
            gpu = torch_device_index(self.device)
            if mode == "model":
                pipe.enable_model_cpu_offload(gpu_id=gpu)
            else:
                pipe.enable_sequential_cpu_offload(gpu_id=gpu)
        else:
            pipe.to(self.device)
        if self.option("vae_tiling", False):
            vae = getattr(pipe, "vae", None)
            if vae is not None and hasattr(vae, "enable_tiling"):
                vae.enable_tiling()
            else:
                log.warning("%s: vae_tiling asked, but this pipeline's VAE cannot tile", type(self).__name__)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def set_flow_shift(self, pipe: Any) -> None:
        """Apply ``flow_shift`` to the pipeline's scheduler (UniPC: ``flow_shift``; flow-match Euler: ``shift``).

        Without it the checkpoint's scheduler config decides (3.0 in Wan's diffusers checkpoints).
        """
        shift = self.option("flow_shift", None)
        if shift is None:
            return
        cfg = pipe.scheduler.config
        key = "flow_shift" if "flow_shift" in cfg else "shift" if "shift" in cfg else None
        if key is None:
            raise BackendError(f"{type(pipe.scheduler).__name__} has no shift to set (flow_shift={shift})")
        pipe.scheduler = type(pipe.scheduler).from_config(cfg, **{key: float(shift)})

    def load_lora(self, pipe: Any) -> None:
        """Load ``lora`` (an acceleration/distillation LoRA, e.g. CausVid) the way diffusers does for
        Wan: ``load_lora_weights`` then ``set_adapters`` at ``lora_scale``; fused into the weights and
        the adapter dropped when ``lora_fuse`` (no per-step LoRA cost)."""
        lora = self.option("lora", None)
        if not lora:
            return
        kw = {"weight_name": self.option("lora_weight_name", None)} if self.option("lora_weight_name", None) else {}
        scale = float(self.option("lora_scale", 1.0))
        try:
            pipe.load_lora_weights(lora, adapter_name="recipe", **kw)
        except (OSError, ValueError) as e:
            raise BackendError(f"{type(self).__name__}: cannot load LoRA {lora!r}: {e}") from e
        pipe.set_adapters(["recipe"], adapter_weights=[scale])
        if self.option("lora_fuse", True):
            pipe.fuse_lora(adapter_names=["recipe"], lora_scale=1.0)
            pipe.unload_lora_weights()

    def recipe_info(self) -> dict[str, Any]:
        """The diffusion settings that shape an output, for provenance."""
        keys = ("steps", "guidance_scale", "flow_shift", "width", "height", "lora", "lora_weight_name", "lora_scale")
        return {k: self.option(k, None) for k in keys if self.option(k, None) is not None}

    @property
    def model_info(self) -> dict[str, Any]:
        """Facts for the stage's provenance: ``model``, ``revision``, ``dtype``, ``device`` and extras."""
        return {"model": self.model_id, "revision": self.revision,
                "dtype": str(self.dtype).replace("torch.", "") if self.dtype is not None else None,
                "device": self.device, "backend_class": type(self).__name__, **self.extra_info()}

    def extra_info(self) -> dict[str, Any]:
        return {}
