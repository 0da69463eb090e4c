"""Model-backend settings that stage configs share, typed so a config file is checked like the rest.

``None`` means "the backend's own default" (``ModelBackend.option``); the CPU defaults ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class VLMOptions:
    """Qwen2.5-VL caption, instruction and judge backends."""

    max_pixels: int | None = None  # frames are downscaled to at most this many pixels
    max_new_tokens: int | None = None
    temperature: float | None = None
    max_retries: int | None = None  # a malformed answer is retried this often, then the sample is rejected
    prompt_version: str | None = None  # prompts/<task>_<version>.txt; latest when None


@dataclass
class DiffusionOptions:
    """Qwen-Image-Edit, Wan2.1-VACE and Wan2.2 backends."""

    steps: int | None = None
    guidance_scale: float | None = None
    true_cfg_scale: float | None = None
    conditioning_scale: float | None = None
    width: int | None = None  # generation size; the output is resized back to the source's
    height: int | None = None
    negative_prompt: str | None = None
    offload: bool | None = None  # model CPU offload, for cards with less memory
