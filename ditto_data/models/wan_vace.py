"""Wan2.1-VACE video generation (diffusers ``WanVACEPipeline``): the paper's generator.

Conditioned as in Ditto: the edited keyframe is VACE's reference image, the depth video of the
source is the control video (the whole frame is generated: mask of ones), and the instruction is the
prompt. See :mod:`._video_diffusion` for how frame count and size are kept aligned with the source.

The affordable path (the stage config's fields, Ditto's public settings as defaults): an
acceleration LoRA (``lora``, e.g. CausVid rank 32) loaded as diffusers loads Wan LoRAs, few steps at
low CFG, the scheduler's ``flow_shift``, a smaller generation size resized back to the dataset's,
and ``offload``/``vae_tiling`` so a 14B model fits 80 GB and the 1.3B one 24 GB.
"""

from __future__ import annotations

import logging

import numpy as np

from ..builders.stage import Resources
from .options import WAN_NEGATIVE_PROMPT
from ._base import ModelBackend, check_frames, generator
from ._video_diffusion import frames_for, model_size, pad_frames, resize_frames, to_pil, to_uint8
from .families import VideoGenerator

log = logging.getLogger(__name__)


class WanVaceGenerator(ModelBackend, VideoGenerator):
    """``generate(source_frames, edited_keyframe, depth_frames, instruction, style, seed) -> uint8 [T,H,W,3]``.

    Options read from the stage config (:class:`~ditto_data.stages.generate.GenerateConfig`):
    ``steps``, ``guidance_scale``, ``flow_shift``, ``conditioning_scale``, ``negative_prompt``,
    ``width``/``height`` (model size), ``lora``/``lora_weight_name``/``lora_scale``/``lora_fuse``,
    ``offload``, ``vae_tiling``. Where a config lacks one, Wan's own defaults apply (30 steps, CFG 5).
    """

    default_model = "Wan-AI/Wan2.1-VACE-14B-diffusers"
    resources = Resources(cpus=2, gpus=1, gpu_memory_gb=80.0)

    def _load(self) -> None:
        import torch
        from diffusers import AutoencoderKLWan, WanVACEPipeline

        kw = self.pretrained_kwargs()
        vae = AutoencoderKLWan.from_pretrained(self.model_id, subfolder="vae", torch_dtype=torch.float32, **kw)
        self.pipe = WanVACEPipeline.from_pretrained(self.model_id, vae=vae, torch_dtype=self.dtype, **kw)
        self.set_flow_shift(self.pipe)
        self.load_lora(self.pipe)
        steps, cfg = int(self.option("steps", 30)), float(self.option("guidance_scale", 5.0))
        if steps <= 8 and not self.option("lora", None):
            log.warning("wan-vace: %d steps at guidance %.2g without an acceleration LoRA (`lora`) gives poor "
                        "videos: set `lora` (e.g. a CausVid LoRA) or use ~30 steps at guidance ~5", steps, cfg)
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
        out = self.pipe(prompt=prompt, negative_prompt=self.option("negative_prompt", WAN_NEGATIVE_PROMPT),
                        video=control, reference_images=[ref],
                        conditioning_scale=float(self.option("conditioning_scale", 1.0)),
                        height=mh, width=mw, num_frames=n, num_inference_steps=int(self.option("steps", 30)),
                        guidance_scale=float(self.option("guidance_scale", 5.0)),
                        generator=generator(self.device, seed), output_type="np").frames[0]
        return resize_frames(to_uint8(out)[:t], h, w)

    def extra_info(self) -> dict:
        return {"steps": int(self.option("steps", 30)), "guidance_scale": float(self.option("guidance_scale", 5.0)),
                "conditioning_scale": float(self.option("conditioning_scale", 1.0)), **self.recipe_info()}
