"""Per-frame Depth Anything (transformers), returned as a depth video aligned with the source.

The model predicts relative inverse depth (large = near). Each frame's prediction is resized back
to the source size and scaled to 0..255, near = bright, as VACE's depth control videos are. The
scaling is per frame by default (``normalize: frame``): VACE's own depth annotator
(ali-vilab/VACE ``vace/annotators/depth.py``) min/max-normalises each frame, so that is what VACE's
depth condition was trained on. ``normalize: clip`` uses one min/max over the clip instead (steadier
brightness, but a per-frame model's scale drifts between frames anyway, and it matches neither
VACE's training nor Video Depth Anything).
"""

from __future__ import annotations

import numpy as np

from ..builders.stage import Resources
from ._base import ModelBackend, check_frames
from .families import DepthEstimator

NORMALIZE = ("frame", "clip")


def to_depth_video(pred: np.ndarray, normalize: str = "frame") -> np.ndarray:
    """Relative inverse depth ``[T, H, W]`` -> uint8, near = bright, min/max per frame or per clip."""
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of {', '.join(NORMALIZE)}, got {normalize!r}")
    axes = (1, 2) if normalize == "frame" else None
    lo, hi = pred.min(axis=axes, keepdims=True), pred.max(axis=axes, keepdims=True)
    span = np.where(hi - lo < 1e-12, 1.0, hi - lo)
    return np.clip((pred - lo) / span * 255.0 + 0.5, 0, 255).astype(np.uint8)


class DepthAnythingEstimator(ModelBackend, DepthEstimator):
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
        return to_depth_video(self.predict(frames), self.option("normalize", "frame"))

    def extra_info(self) -> dict:
        return {"normalize": self.option("normalize", "frame")}
