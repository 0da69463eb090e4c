"""Wan2.2 low-noise refinement of an edited video (the paper's enhance step), as Ditto ran it.

Ditto's released enhancer (``denoising_enhancing/``): the edited video is encoded by Wan's VAE,
re-noised to ``timesteps[-steps]`` of a ``total_steps``-step UniPC schedule at flow shift 12 and
denoised over those last steps by Wan2.2-T2V-A14B's low-noise expert alone, with CFG 3.0, Wan's
standard negative prompt and an empty prompt. Fine detail is restored while content and motion
stay those of the input.

In diffusers' Wan2.2 A14B checkpoints ``transformer`` is the high-noise expert (timesteps at or
above ``boundary_ratio * 1000``, 875 for T2V) and ``transformer_2`` the low-noise one (below it):
``WanPipeline``'s denoising loop picks ``transformer`` when ``t >= boundary_timestep``. Only the
expert asked for (``expert: low`` -> ``transformer_2``) is loaded, with the text encoder, VAE and
scheduler, into a ``WanVideoToVideoPipeline``; a single-expert checkpoint (Wan2.1, Wan2.2 TI2V-5B)
has only ``transformer``, which is then used.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..builders.stage import Resources
from .options import WAN_NEGATIVE_PROMPT
from ._base import BackendError, ModelBackend, check_frames, generator
from ._video_diffusion import frames_for, model_size, pad_frames, resize_frames, to_pil, to_uint8
from .families import Enhancer

log = logging.getLogger(__name__)


def pipeline_index(model: str, **kw) -> dict:
    """The checkpoint's ``model_index.json`` (local folder or Hub), without loading any weights."""
    local = Path(model) / "model_index.json"
    if local.is_file():
        return json.loads(local.read_text())
    from diffusers import DiffusionPipeline

    return dict(DiffusionPipeline.load_config(model, **kw))


def expert_subfolder(index: dict, expert: str) -> str:
    """``transformer_2`` for the low-noise expert of a two-expert checkpoint, else ``transformer``."""
    two = bool((index.get("transformer_2") or [None])[0])
    if expert == "low":
        return "transformer_2" if two else "transformer"
    if expert == "high":
        return "transformer"
    raise BackendError(f"expert must be low or high, got {expert!r}")


class Wan22Enhancer(ModelBackend, Enhancer):
    """``enhance(edited_frames, instruction, seed) -> uint8 [T,H,W,3]`` (same T, H, W).

    Options (:class:`~ditto_data.stages.enhance.EnhanceConfig`, Ditto's values as defaults):
    ``steps`` (4) of ``total_steps`` (40), ``flow_shift`` (12), ``guidance_scale`` (3.0),
    ``negative_prompt`` (Wan's), ``prompt`` ("") or ``prompt_from_instruction``, ``expert`` (low),
    ``width``/``height``, ``offload``, ``vae_tiling``, ``lora``.
    """

    default_model = "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
    resources = Resources(cpus=2, gpus=1, gpu_memory_gb=80.0)
    expert: str | None = None  # the checkpoint's subfolder loaded, once loaded (``transformer_2``: low noise)

    def _load(self) -> None:
        import torch
        from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel, WanVideoToVideoPipeline
        from transformers import AutoTokenizer, UMT5EncoderModel

        kw = self.pretrained_kwargs()
        index = pipeline_index(self.model_id, **kw)
        self.expert = expert_subfolder(index, self.option("expert", "low"))
        transformer = WanTransformer3DModel.from_pretrained(self.model_id, subfolder=self.expert,
                                                            torch_dtype=self.dtype, **kw)
        vae = AutoencoderKLWan.from_pretrained(self.model_id, subfolder="vae", torch_dtype=torch.float32, **kw)
        text_encoder = UMT5EncoderModel.from_pretrained(self.model_id, subfolder="text_encoder", dtype=self.dtype, **kw)
        tokenizer = AutoTokenizer.from_pretrained(self.model_id, subfolder="tokenizer", **kw)
        scheduler = UniPCMultistepScheduler.from_pretrained(self.model_id, subfolder="scheduler", **kw)
        if not isinstance(scheduler, UniPCMultistepScheduler) or not scheduler.config.get("use_flow_sigmas"):
            raise BackendError(f"{self.model_id}: expected Wan's flow-matching UniPC scheduler, got "
                               f"{type(scheduler).__name__} {dict(scheduler.config)}")
        self.pipe = WanVideoToVideoPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
                                            scheduler=scheduler, transformer=transformer)
        self.set_flow_shift(self.pipe)
        self.load_lora(self.pipe)
        self.place(self.pipe)

    @property
    def steps(self) -> int:
        steps, total = int(self.option("steps", 4)), int(self.option("total_steps", 40))
        if not 1 <= steps <= total:
            raise ValueError(f"enhance steps must be within 1..total_steps ({total}), got {steps}")
        return steps

    @property
    def strength(self) -> float:
        """``WanVideoToVideoPipeline`` runs the last ``int(total * strength)`` timesteps and re-noises
        at the first of them: half a step more than ``steps/total`` keeps ``int`` from rounding a
        float product like 2.9999 down to one step fewer."""
        total = int(self.option("total_steps", 40))
        return min(1.0, (self.steps + 0.5) / total)

    def prompt_for(self, instruction: str) -> str:
        return instruction if self.option("prompt_from_instruction", False) else str(self.option("prompt", ""))

    def enhance(self, edited_frames: np.ndarray, instruction: str, seed: int) -> np.ndarray:
        self.ensure_loaded()
        frames = check_frames(edited_frames, "edited_frames")
        t, h, w = frames.shape[:3]
        n = frames_for(t, self.pipe.vae_scale_factor_temporal)
        multiple = self.pipe.vae_scale_factor_spatial * self.pipe.transformer.config.patch_size[1]
        mh, mw = model_size(h, w, multiple, self.option("width", None), self.option("height", None))
        video = to_pil(resize_frames(pad_frames(frames, n), mh, mw))
        out = self.pipe(video=video, prompt=self.prompt_for(instruction),
                        negative_prompt=self.option("negative_prompt", WAN_NEGATIVE_PROMPT),
                        height=mh, width=mw, num_inference_steps=int(self.option("total_steps", 40)),
                        strength=self.strength, guidance_scale=float(self.option("guidance_scale", 3.0)),
                        generator=generator(self.device, seed), output_type="np").frames[0]
        return resize_frames(to_uint8(out)[:t], h, w)

    def extra_info(self) -> dict:
        return {"expert": self.expert, "total_steps": int(self.option("total_steps", 40)),
                "prompt": self.prompt_for("<instruction>"), **self.recipe_info()}
