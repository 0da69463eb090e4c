"""Qwen-Image-Edit keyframe editing (diffusers ``QwenImageEditPipeline``): the paper's image editor.

The pipeline works near one megapixel; its output is resized back to the keyframe's size, so the
edited keyframe lines up with the source frame it was made from.
"""

from __future__ import annotations

import numpy as np

from ..builders.stage import Resources
from ._base import ModelBackend, generator
from ._video_diffusion import resize_frames, to_pil, to_uint8
from .families import KeyframeEditor
from .qwen_processor import QwenImageTextProcessor, has_torchvision


class QwenImageEditor(ModelBackend, KeyframeEditor):
    """``edit(image uint8 [H,W,3], instruction, style, seed) -> uint8 [H,W,3]``.

    Options: ``steps`` (default 50), ``true_cfg_scale`` (4.0), ``width``/``height`` (model size;
    default the pipeline's own ~1 MP at the keyframe's aspect), ``negative_prompt``, ``offload``.
    """

    default_model = "Qwen/Qwen-Image-Edit"
    resources = Resources(cpus=1, gpus=1, gpu_memory_gb=60.0)

    def _load(self) -> None:
        from diffusers import QwenImageEditPipeline

        kw = self.pretrained_kwargs()
        if has_torchvision():
            self.pipe = QwenImageEditPipeline.from_pretrained(self.model_id, torch_dtype=self.dtype, **kw)
        else:  # transformers' Qwen2VLProcessor would fail to load: skip it, put ours in its place
            self.pipe = QwenImageEditPipeline.from_pretrained(self.model_id, torch_dtype=self.dtype, processor=None, **kw)
            self.pipe.processor = QwenImageTextProcessor.from_pretrained(self.model_id, subfolder="processor", **kw)
        self.load_lora(self.pipe)  # e.g. a few-step Lightning LoRA, with steps/true_cfg_scale to match
        self.place(self.pipe)

    def edit(self, image: np.ndarray, instruction: str, style: str | None, seed: int) -> np.ndarray:
        self.ensure_loaded()
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be uint8 [H, W, 3], got {image.dtype} {tuple(image.shape)}")
        h, w = image.shape[:2]
        prompt = instruction if not style or style.lower() in instruction.lower() else f"{instruction} Style: {style}."
        out = self.pipe(image=to_pil(image[None])[0], prompt=prompt, negative_prompt=self.option("negative_prompt", " "),
                        true_cfg_scale=float(self.option("true_cfg_scale", 4.0)),
                        height=self.option("height", None), width=self.option("width", None),
                        num_inference_steps=int(self.option("steps", 50)), generator=generator(self.device, seed),
                        output_type="np").images[0]
        return resize_frames(to_uint8(out)[None], h, w)[0]

    def extra_info(self) -> dict:
        return {"steps": int(self.option("steps", 50)), "true_cfg_scale": float(self.option("true_cfg_scale", 4.0)),
                **self.recipe_info()}
