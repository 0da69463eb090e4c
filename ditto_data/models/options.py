"""Model-backend settings that stage configs share, typed so a config file is checked like the rest.

The recipe constants (steps, shift, guidance, negative prompt, strength, sizes, LoRA) are fields of
the stage configs (``generate.py``, ``enhance.py``, ``keyframe_edit.py``, ``judge.py``,
``depth.py``), each with the value Ditto published as its default where it published one and the
public source named beside it; ``configs/ditto_paper.yaml`` and ``configs/ditto_24gb.yaml`` spell
the two recipes out. ``None`` means "the backend's (checkpoint's) own default"; the CPU defaults
ignore all of these.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..builders.stage import ConfigError

#: Wan's standard negative prompt: ``sample_neg_prompt`` of ``wan/configs/shared_config.py`` in
#: Wan-Video/Wan2.1 and Wan-Video/Wan2.2 (the same string in both), used by Wan's own generate.py
#: and by Ditto's enhancer (the release's ``denoising_enhancing/``).
WAN_NEGATIVE_PROMPT = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
                       "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
                       "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走")

#: How a diffusers pipeline is put on the GPU: whole (``none``), one component at a time
#: (``model``: enable_model_cpu_offload, ~the largest component resident) or one layer at a time
#: (``sequential``: enable_sequential_cpu_offload, least memory, slowest).
OFFLOAD_MODES = ("none", "model", "sequential")


def offload_mode(value: object) -> str:
    """``offload`` as one of none / model / sequential (``true`` is model, ``false`` none)."""
    if value is True:
        return "model"
    if value in (False, None, ""):
        return "none"
    return str(value)


@dataclass
class VLMOptions:
    """Qwen2.5-VL caption, instruction and judge backends."""

    max_pixels: int | None = None  # frames are downscaled to at most this many pixels
    max_new_tokens: int | None = None
    temperature: float | None = None  # None: the backend's default (judge: 0, greedy)
    retry_temperature: float = 0.7  # a malformed greedy answer is retried sampling at this temperature
    max_retries: int | None = None  # a malformed answer is retried this often, then the sample is rejected
    prompt_version: str | None = None  # prompts/<task>_<version>.txt; latest when None


@dataclass
class DiffusionOptions:
    """What every diffusion backend (Qwen-Image-Edit, Wan2.1-VACE, Wan2.2) understands.

    ``width``/``height``: the size the model runs at; its output is resized back to the source's
    size, so a cheaper generation size never changes the dataset's (a portrait clip swaps them).
    """

    steps: int | None = None
    guidance_scale: float | None = None
    negative_prompt: str | None = None
    flow_shift: float | None = None  # the scheduler's shift; None: the checkpoint's scheduler config
    width: int | None = None
    height: int | None = None
    offload: str | bool = "none"  # none | model | sequential (true means model)
    vae_tiling: bool = False  # decode/encode in tiles where the pipeline's VAE can (less memory)
    lora: str | None = None  # a LoRA file, folder or Hub repo, loaded with pipe.load_lora_weights
    lora_weight_name: str | None = None  # the file inside ``lora`` when it is a folder or repo
    lora_scale: float = 1.0
    lora_fuse: bool = True  # fuse into the weights (no per-step LoRA cost), then drop the adapter

    def validate_diffusion(self) -> None:
        if offload_mode(self.offload) not in OFFLOAD_MODES:
            raise ConfigError("offload", f"{self.offload!r} is not one of {', '.join(OFFLOAD_MODES)} (or true/false)")
        if self.steps is not None and self.steps < 1:
            raise ConfigError("steps", "must be at least 1")
        if self.flow_shift is not None and self.flow_shift <= 0:
            raise ConfigError("flow_shift", "must be positive")
        for name in ("width", "height"):
            v = getattr(self, name)
            if v is not None and (v < 16 or v % 16):
                raise ConfigError(name, f"must be a multiple of 16 (Wan/Qwen-Image latent patches), got {v}")
        if (self.width is None) != (self.height is None):
            raise ConfigError("width", "set width and height together, or neither (the source's size)")


@dataclass
class EncodeOptions:
    """Encoding of a stage's output video: a keyframe every ``gop`` frames (cheap random access)."""

    gop: int = 20
    crf: float = 18.0
    preset: str = "veryfast"

    def validate_encode(self) -> None:
        if self.gop < 1:
            raise ConfigError("gop", "must be at least 1")
        if not 0 <= self.crf <= 51:
            raise ConfigError("crf", "must be between 0 and 51")
