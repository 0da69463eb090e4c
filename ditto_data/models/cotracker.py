"""CoTracker3 motion score (the paper's curation), where the ``cotracker`` package is installed.

Ditto's motion score is the mean over a grid of tracked points of each point's cumulative
displacement. With CoTracker3 (``pip install git+https://github.com/facebookresearch/co-tracker``,
weights ``scaled_offline.pth`` given as ``model``) the points are tracked over the whole clip and a
step counts where the point is visible at both ends, in pixels of the frame scaled to 1280 wide,
the CPU score's unit. Where ``cotracker`` cannot be imported (it is not on PyPI) this backend uses
the motion stage's CPU default and says so in ``model_info["backend"]``:
``"cpu (cotracker3 unavailable)"``.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import numpy as np

from ..builders.stage import Resources
from ._base import ModelBackend, check_frames
from .families import MotionScorer

log = logging.getLogger(__name__)

REFERENCE_WIDTH = 1280
FALLBACK = "cpu (cotracker3 unavailable)"


def cotracker_available() -> bool:
    return importlib.util.find_spec("cotracker") is not None


def cumulative_displacement(tracks: np.ndarray, visible: np.ndarray, width: int) -> float:
    """Mean over points of summed step lengths ``[T, N, 2]`` where visible at both ends, at 1280 wide."""
    if len(tracks) < 2:
        return 0.0
    steps = np.linalg.norm(np.diff(tracks, axis=0), axis=-1)  # [T-1, N]
    ok = visible[1:] & visible[:-1]
    return float((steps * ok).sum(0).mean() * REFERENCE_WIDTH / width)


class CoTrackerMotion(ModelBackend, MotionScorer):
    """``score(frames uint8 [T,H,W,3]) -> float`` (same units as the CPU score)."""

    default_model = "scaled_offline.pth"
    resources = Resources(cpus=1, gpus=0.25, gpu_memory_gb=6.0)
    backend_name: str | None = None  # what scores, once loaded: "cotracker3" or FALLBACK

    def _load(self) -> None:
        self.backend_name = "cotracker3" if cotracker_available() else FALLBACK
        if self.backend_name == FALLBACK:
            from ..builders.stage import get_stage, import_object

            log.warning("cotracker is not installed: motion is scored by the CPU default")
            self.fallback = import_object(get_stage("motion").backends["cpu"])(self.config)
            self.fallback.setup()
            return
        from cotracker.predictor import CoTrackerPredictor  # untested here: the package is not installable offline

        self.model = CoTrackerPredictor(checkpoint=self.model_id, offline=True, window_len=60).to(self.device).eval()

    def score(self, frames: np.ndarray) -> float:
        import torch

        self.ensure_loaded()
        frames = check_frames(frames)
        if self.backend_name == FALLBACK:
            return float(self.fallback.score(frames))
        video = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].float().to(self.device)  # [1, T, 3, H, W]
        with torch.inference_mode():
            tracks, visible = self.model(video, grid_size=int(self.option("grid", 16)))
        return cumulative_displacement(tracks[0].cpu().numpy(), visible[0].cpu().numpy().astype(bool), frames.shape[2])

    @property
    def model_info(self) -> dict[str, Any]:
        info = super().model_info
        info["backend"] = self.backend_name
        if info["backend"] == FALLBACK:
            info["model"] = None
        return info
