"""The ``motion`` stage: how much a source clip moves, stored on every clip; still clips rejected.

Ditto scores motion with CoTracker3 over a grid of points: the mean over points of each point's
cumulative displacement. The CPU default, :class:`LucasKanadeMotion`, computes the same quantity
with OpenCV's pyramidal Lucas-Kanade flow: a regular grid of points is tracked frame to frame at a
reduced working width; a point whose forward-backward check fails (occlusion, a cut, a textureless
patch) or that leaves the frame adds nothing for that step and is re-seeded at its grid position.

The unit is pixels of the clip scaled to 1280 wide, summed over the clip (all its frames at the
clip's own rate; Ditto's clips are 101 frames at 20 fps), whatever the working width, so the
threshold means the same on 320-wide test clips and 1280x720 sources.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from ..builders.stage import ConfigError, ModelStageConfig, Resources, Stage, register_stage
from ..models.families import MotionScorer
from ..schema import CLIP, Record
from .clip_frames import clip_video, iter_clip_frames

log = logging.getLogger(__name__)

REFERENCE_WIDTH = 1280  # scores are in pixels of a frame this wide


@dataclass
class MotionConfig(ModelStageConfig):
    """``threshold``: clips scoring below it are rejected (``low_motion``). The score is the mean
    over a ``grid`` x ``grid`` point grid of each point's cumulative displacement over the clip, in
    pixels of the frame scaled to 1280 wide. The default 10 rejects a still image (about 1-2, from
    encoder jitter) and keeps a slowly rotating globe (about 60) or a slow pan (about 100).

    CPU backend: frames are tracked at ``work_width`` pixels wide, every ``frame_stride``-th frame;
    ``fb_error`` is the largest forward-backward error (working pixels) of a trusted step;
    ``window`` and ``levels`` are Lucas-Kanade's window side and pyramid levels.
    """

    threshold: float = 10.0
    grid: int = 16
    work_width: int = 320
    frame_stride: int = 1
    fb_error: float = 1.0
    window: int = 15
    levels: int = 3

    def validate(self) -> None:
        if self.threshold < 0:
            raise ConfigError("threshold", "must be 0 or more")
        if self.grid < 1:
            raise ConfigError("grid", "must be at least 1")
        if self.work_width < 32:
            raise ConfigError("work_width", "must be at least 32")
        if self.frame_stride < 1:
            raise ConfigError("frame_stride", "must be at least 1")
        if self.fb_error <= 0:
            raise ConfigError("fb_error", "must be above 0")
        if self.window < 3:
            raise ConfigError("window", "must be at least 3")
        if self.levels < 0:
            raise ConfigError("levels", "must be 0 or more")


class LucasKanadeMotion(MotionScorer):
    """CPU motion score: mean cumulative displacement of a tracked, re-seeded point grid."""

    resources = Resources(cpus=1.0)
    streams = True  # score() takes an iterable of frames: the stage decodes a chunk at a time
    config: MotionConfig

    def score(self, frames: np.ndarray | Iterable[np.ndarray]) -> float:
        """frames uint8 [T, H, W, 3] (or an iterable of [H, W, 3]) -> score (see the module docstring).

        Fewer than two frames score 0.
        """
        c = self.config
        lk = dict(winSize=(c.window, c.window), maxLevel=c.levels,
                  criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
        prev = seeds = pts = cum = None
        scale = 1.0
        for frame in frames:
            gray = self._gray(frame)
            if prev is None:
                h, w = gray.shape
                scale = REFERENCE_WIDTH / w
                ys = (np.arange(c.grid) + 0.5) * h / c.grid
                xs = (np.arange(c.grid) + 0.5) * w / c.grid
                seeds = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 1, 2).astype(np.float32)
                pts, cum = seeds.copy(), np.zeros(len(seeds), dtype=np.float64)
                prev = gray
                continue
            nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, gray, pts, None, **lk)
            back, st_back, _ = cv2.calcOpticalFlowPyrLK(gray, prev, nxt, None, **lk)
            fb = np.linalg.norm((back - pts).reshape(-1, 2), axis=1)
            x, y = nxt[:, 0, 0], nxt[:, 0, 1]
            ok = ((st.ravel() == 1) & (st_back.ravel() == 1) & (fb < c.fb_error)
                  & (x >= 0) & (y >= 0) & (x <= gray.shape[1] - 1) & (y <= gray.shape[0] - 1))
            step = np.linalg.norm((nxt - pts).reshape(-1, 2), axis=1)
            cum[ok] += step[ok]
            pts = np.where(ok[:, None, None], nxt, seeds)  # lost points start again from their grid cell
            prev = gray
        return 0.0 if cum is None else float(cum.mean() * scale)

    def _gray(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        width = min(self.config.work_width, w)
        height = max(1, round(h * width / w))
        small = cv2.resize(np.ascontiguousarray(frame), (width, height), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


@register_stage
class MotionStage(Stage):
    name = "motion"
    requires = frozenset({"clip.video"})
    produces = frozenset({"clip.motion"})
    kinds = (CLIP,)
    batch_size = 1
    Config = MotionConfig
    resources = Resources(cpus=1.0)
    family = MotionScorer
    backends = {
        "cpu": "ditto_data.stages.motion:LucasKanadeMotion",
        "cotracker3": "ditto_data.models.cotracker:CoTrackerMotion",
    }

    def process(self, batch: list[Record]) -> list[Record]:
        cfg = self.config
        for r in batch:
            with self.rejecting(r):
                frames = iter_clip_frames(clip_video(r, self.ctx.out_dir), stride=cfg.frame_stride)
                if not self.backend.streams:  # a model backend takes the whole clip
                    frames = np.stack(list(frames))
                score = round(float(self.backend.score(frames)), 3)
            if not r.ok:
                continue
            r.fields["motion"] = score
            r.provenance["motion"] = asdict(self.provenance())
            if score < cfg.threshold:
                r.reject(self.name, "low_motion", f"motion {score:.2f} is under the threshold {cfg.threshold} "
                         "(mean cumulative displacement, pixels at 1280 wide)", motion=score)
        return batch
