"""Per-frame Depth Anything (transformers), returned as a depth video aligned with the source.

The model predicts relative inverse depth (large = near). Each frame's prediction is resized back
to the source size; the whole clip is then scaled to 0..255 with one min/max over all frames, so
brightness means the same depth in every frame (per-frame scaling would flicker) and near is bright,
as VACE's depth control videos are.
"""

from __future__ import annotations

import numpy as np

from ...builders.stage import Resources
from ._base import ModelBackend, check_frames


class DepthAnythingEstimator(ModelBackend):
    """``depth(frames uint8 [T,H,W,3]) -> uint8 [T,H,W]``, near = bright, same T, H, W as the input."""

    default_model = "depth-anything/Depth-Anything-V2-Large-hf"
    resources = Resources(cpus=1, gpus=0.25, gpu_memory_gb=3.0)

    def _load(self) -> None:
        from transformers import AutoImageProcessor, DepthAnythingForDepthEstimation

        kw = self.pretrained_kwargs()
        self.processor = AutoImageProcessor.from_pretrained(self.model_id, **kw)
        self.model = DepthAnythingForDepthEstimation.from_pretrained(self.model_id, dtype=self.dtype, **kw)
        self.model = self.model.to(self.device).eval()

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Raw relative inverse depth, float32 ``[T, H, W]`` at the source size."""
        import torch
        import torch.nn.functional as F

        self.ensure_loaded()
        frames = check_frames(frames)
        h, w = frames.shape[1:3]
        out = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                pixels = self.processor(images=list(frames[i : i + self.batch_size]), return_tensors="pt")["pixel_values"]
                pred = self.model(pixel_values=pixels.to(self.device, self.dtype)).predicted_depth  # [B, h', w']
                pred = F.interpolate(pred.float()[:, None], size=(h, w), mode="bicubic", align_corners=False)
                out.append(pred[:, 0].cpu())
        return torch.cat(out).numpy()

    def depth(self, frames: np.ndarray) -> np.ndarray:
        d = self.predict(frames)
        lo, hi = float(d.min()), float(d.max())
        if hi - lo < 1e-12:
            return np.zeros(d.shape, np.uint8)
        return np.clip((d - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
