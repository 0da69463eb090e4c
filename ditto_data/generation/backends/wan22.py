"""Wan2.2 low-noise refinement of an edited video (the paper's enhance step), via diffusers.

The edited video is encoded by Wan's VAE, re-noised to a late timestep of the flow-matching
schedule and denoised over the last ``steps`` of ``total_steps`` steps by Wan2.2's low-noise
expert (``transformer_2`` of a Wan2.2 A14B checkpoint; ``transformer`` of a single-expert one):
``WanVideoToVideoPipeline`` with ``strength = steps / total_steps``. Fine detail is restored while
content and motion stay those of the input.
"""

from __future__ import annotations

import numpy as np

from ...builders.stage import Resources
from ._base import ModelBackend, check_frames, generator
from ._video_diffusion import frames_for, model_size, pad_frames, resize_frames, to_pil, to_uint8
from .wan_vace import NEGATIVE


class Wan22Enhancer(ModelBackend):
    """``enhance(edited_frames, instruction, seed) -> uint8 [T,H,W,3]`` (same T, H, W).

    Options: ``steps`` (denoising steps run, default 4), ``total_steps`` (length of the schedule,
    default 40), ``guidance_scale`` (1.0: no CFG pass), ``width``/``height``, ``offload``.
    """

    default_model = "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
    resources = Resources(cpus=2, gpus=1, gpu_memory_gb=80.0)

    def _load(self) -> None:
        import torch
        from diffusers import AutoencoderKLWan, WanPipeline, WanVideoToVideoPipeline

        kw = self.pretrained_kwargs()
        vae = AutoencoderKLWan.from_pretrained(self.model_id, subfolder="vae", torch_dtype=torch.float32, **kw)
        full = WanPipeline.from_pretrained(self.model_id, vae=vae, torch_dtype=self.dtype, **kw)
        self.expert = "transformer_2" if getattr(full, "transformer_2", None) is not None else "transformer"
        self.pipe = WanVideoToVideoPipeline(tokenizer=full.tokenizer, text_encoder=full.text_encoder, vae=full.vae,
                                            scheduler=full.scheduler, transformer=getattr(full, self.expert))
        self.place(self.pipe)

    @property
    def strength(self) -> float:
        steps, total = int(self.option("steps", 4)), int(self.option("total_steps", 40))
        if not 1 <= steps <= total:
            raise ValueError(f"enhance steps must be within 1..total_steps ({total}), got {steps}")
        return steps / total

    def enhance(self, edited_frames: np.ndarray, instruction: str, seed: int) -> np.ndarray:
        self.ensure_loaded()
        frames = check_frames(edited_frames, "edited_frames")
        t, h, w = frames.shape[:3]
        n = frames_for(t, self.pipe.vae_scale_factor_temporal)
        multiple = self.pipe.vae_scale_factor_spatial * self.pipe.transformer.config.patch_size[1]
        mh, mw = model_size(h, w, multiple, self.option("width", None), self.option("height", None))
        video = to_pil(resize_frames(pad_frames(frames, n), mh, mw))
        out = self.pipe(video=video, prompt=instruction, negative_prompt=self.option("negative_prompt", NEGATIVE),
                        height=mh, width=mw, num_inference_steps=int(self.option("total_steps", 40)),
                        strength=self.strength, guidance_scale=float(self.option("guidance_scale", 1.0)),
                        generator=generator(self.device, seed), output_type="np").frames[0]
        return resize_frames(to_uint8(out)[:t], h, w)

    def extra_info(self) -> dict:
        return {"expert": getattr(self, "expert", None), "steps": int(self.option("steps", 4)),
                "total_steps": int(self.option("total_steps", 40))}
