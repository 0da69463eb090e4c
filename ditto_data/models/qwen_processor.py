"""A Qwen2-VL text+image processor that needs no torchvision.

transformers' ``Qwen2VLProcessor`` / ``Qwen2_5_VLProcessor`` insist on a video processor, which
requires torchvision; this project keeps torchvision optional (its PyPI build breaks a CPU torch).
For images only, the processor's work is small: run the image processor, and expand each
``<|image_pad|>`` of the text into ``grid_t*grid_h*grid_w / merge_size**2`` copies. This class does
that with the checkpoint's own tokenizer and image processor, and is used only where torchvision
is missing.
"""

from __future__ import annotations

import importlib.util
from typing import Any

IMAGE_PAD = "<|image_pad|>"


def has_torchvision() -> bool:
    return importlib.util.find_spec("torchvision") is not None


class QwenImageTextProcessor:
    """``processor(text=[...], images=[...], padding=True, return_tensors="pt") -> BatchFeature``."""

    def __init__(self, tokenizer: Any, image_processor: Any):
        self.tokenizer, self.image_processor = tokenizer, image_processor

    @classmethod
    def from_pretrained(cls, path: str, subfolder: str | None = None, **kw: Any) -> QwenImageTextProcessor:
        from transformers import AutoImageProcessor, AutoTokenizer

        if subfolder:
            kw["subfolder"] = subfolder
        return cls(AutoTokenizer.from_pretrained(path, **kw), AutoImageProcessor.from_pretrained(path, **kw))

    def __call__(self, text: str | list[str], images: Any = None, padding: bool = True, return_tensors: str = "pt",
                 **_: Any):
        from transformers import BatchFeature

        texts = [text] if isinstance(text, str) else list(text)
        data: dict[str, Any] = {}
        if images is not None:
            imgs = images if isinstance(images, list) else [images]
            im = self.image_processor(images=imgs, return_tensors=return_tensors)
            data.update(im)
            counts = iter((im["image_grid_thw"].prod(-1) // self.image_processor.merge_size**2).tolist())
            expanded = []
            for t in texts:
                parts = t.split(IMAGE_PAD)
                expanded.append(parts[0] + "".join(IMAGE_PAD * int(next(counts)) + p for p in parts[1:]))
            texts = expanded
        data.update(self.tokenizer(texts, padding=padding, return_tensors=return_tensors))
        return BatchFeature(data=data)
