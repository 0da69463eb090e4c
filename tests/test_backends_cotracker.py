"""CoTracker3 motion backend: here ``cotracker`` is not installable, so the fallback is what runs.

The CoTracker3 path itself is untested in this environment (the package is not on PyPI and its
weights cannot be fetched); its score formula is tested by hand below.
"""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import clip_frames

from ditto_data.builders.stage import get_stage
from ditto_data.models.cotracker import FALLBACK, CoTrackerMotion, cotracker_available, cumulative_displacement


def test_score_formula_by_hand():
    tracks = np.array([[[0, 0], [10, 10]], [[3, 4], [10, 10]], [[3, 4], [13, 14]]], dtype=float)  # [T=3, N=2, 2]
    visible = np.ones((3, 2), bool)
    # point 0 moves 5 then 0, point 1 moves 0 then 5: mean 5 px at 640 wide = 10 at 1280
    assert cumulative_displacement(tracks, visible, 640) == pytest.approx(10.0)
    visible[2, 1] = False  # point 1's second step is not trusted
    assert cumulative_displacement(tracks, visible, 640) == pytest.approx(5.0)


@pytest.mark.skipif(cotracker_available(), reason="cotracker is installed: the real backend runs instead")
def test_falls_back_to_the_cpu_score_and_says_so(media_dir):
    stage = get_stage("motion")
    cfg = stage.Config(backend="cotracker3")
    frames = clip_frames(media_dir / "kivy_cityCC0.mpg", 12)
    backend = CoTrackerMotion(cfg)
    got = backend.score(frames)
    cpu = stage.backend_class(stage.Config())(stage.Config())
    assert got == pytest.approx(cpu.score(frames)) and got > 0
    assert backend.model_info["backend"] == FALLBACK and backend.model_info["model"] is None
    assert stage.backends["cotracker3"].endswith("cotracker:CoTrackerMotion")
