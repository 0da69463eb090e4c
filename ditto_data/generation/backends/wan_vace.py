"""Wan2.1-VACE video generation (diffusers ``WanVACEPipeline``): the paper's generator.

Conditioned as in Ditto: the edited keyframe is VACE's reference image, the depth video of the
source is the control video (the whole frame is generated: mask of ones), and the instruction is the
prompt. See :mod:`._video_diffusion` for how frame count and size are kept aligned with the source.
"""

from __future__ import annotations

import numpy as np

from ...builders.stage import Resources
from ._base import ModelBackend, check_frames, generator
from ._video_diffusion import frames_for, model_size, pad_frames, resize_frames, to_pil, to_uint8

NEGATIVE = ("blurry, low quality, distorted, deformed, flickering, static, overexposed, watermark, text, "
            "worst quality, jpeg artifacts, extra fingers, messy background")


class WanVaceGenerator(ModelBackend):
    """``generate(source_frames, edited_keyframe, depth_frames, instruction, style, seed) -> uint8 [T,H,W,3]``.

    Options read from the stage config: ``steps`` (default 30), ``guidance_scale`` (5.0),
    ``width``/``height`` (model size), ``conditioning_scale`` (1.0), ``offload`` (model CPU offload).
    """

    default_model = "Wan-AI/Wan2.1-VACE-14B-diffusers"
    resources = Resources(cpus=2, gpus=1, gpu_memory_gb=80.0)

    def _load(self) -> None:
        import torch
        from diffusers import AutoencoderKLWan, WanVACEPipeline

        kw = self.pretrained_kwargs()
        vae = AutoencoderKLWan.from_pretrained(self.model_id, subfolder="vae", torch_dtype=torch.float32, **kw)
        self.pipe = WanVACEPipeline.from_pretrained(self.model_id, vae=vae, torch_dtype=self.dtype, **kw)
        self.place(self.pipe)

    @property
    def size_multiple(self) -> int:
        return self.pipe.vae_scale_factor_spatial * self.pipe.transformer.config.patch_size[1]

    def generate(self, source_frames: np.ndarray, edited_keyframe: np.ndarray, depth_frames: np.ndarray | None,
                 instruction: str, style: str | None, seed: int) -> np.ndarray:
        self.ensure_loaded()
        src = check_frames(source_frames, "source_frames")
        t, h, w = src.shape[:3]
        n = frames_for(t, self.pipe.vae_scale_factor_temporal)
        mh, mw = model_size(h, w, self.size_multiple, self.option("width", None), self.option("height", None))
        control = None
        if depth_frames is not None:
            depth = np.asarray(depth_frames)
            if len(depth) != t:
                raise ValueError(f"depth video has {len(depth)} frames, the source {t}: they must be aligned")
            control = to_pil(resize_frames(pad_frames(depth, n), mh, mw))
        ref = to_pil(resize_frames(np.asarray(edited_keyframe)[None], mh, mw))[0]
        prompt = instruction if not style or style.lower() in instruction.lower() else f"{instruction} Style: {style}."
        out = self.pipe(prompt=prompt, negative_prompt=self.option("negative_prompt", NEGATIVE), video=control,
                        reference_images=[ref], conditioning_scale=float(self.option("conditioning_scale", 1.0)),
                        height=mh, width=mw, num_frames=n, num_inference_steps=int(self.option("steps", 30)),
                        guidance_scale=float(self.option("guidance_scale", 5.0)),
                        generator=generator(self.device, seed), output_type="np").frames[0]
        return resize_frames(to_uint8(out)[:t], h, w)

    def extra_info(self) -> dict:
        return {"steps": int(self.option("steps", 30)), "guidance_scale": float(self.option("guidance_scale", 5.0))}
