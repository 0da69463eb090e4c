"""Near-duplicate sources on real footage: signatures, time alignment, the labelled set, the build.

A fast subset of ``benchmarks/bench_neardup.py`` (two small dev clips, the transforms that broke
the old keyframe method), and the issue's done-when: a build of a video plus its re-timed, damaged
copy keeps exactly the clips of the video alone.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from ditto_data import build, load_config
from ditto_data.evaluation.neardup_pairs import BASES, TRANSFORMS, labelled_pairs, make_items, score_pairs
from ditto_data.stages.sourcedup import find_duplicate_sources
from ditto_data.stages.timealign import align
from ditto_data.video.signature import VideoSignature, signature_from_grey
from ditto_data.video.standard_clips import analyse

FAST_BASES = [b for b in BASES if b.name in ("carphone", "bikes")]
FAST_TRANSFORMS = [t for t in TRANSFORMS if t.name in (
    "crop", "letterbox", "fps_change", "retime_fast", "retime_slow", "subclip", "logo_overlay", "hflip",
    "retimed_damaged")]


def _signature(path) -> VideoSignature:
    scan = analyse(path, 20.0, 0.2, keep_frames=True)
    return signature_from_grey(scan.frames, 20.0)


@pytest.fixture(scope="module")
def labelled(media_dir, tmp_path_factory):
    items = make_items(media_dir, tmp_path_factory.mktemp("neardup"), FAST_BASES, FAST_TRANSFORMS, max_width=160)
    return items, [_signature(it.path) for it in items]


def test_fast_benchmark_subset_meets_the_targets(labelled):
    items, sigs = labelled
    pairs = labelled_pairs(items)
    assert {p.cls for p in pairs if p.positive} >= {t.name for t in FAST_TRANSFORMS}
    assert any(p.cls == "hard_shots" for p in pairs) and any(p.cls == "hard_static" for p in pairs)
    found = {(m.a, m.b): m for m in find_duplicate_sources(sigs)}
    per, total = score_pairs(pairs, set(found), skip=lambda c: c == "copy_vs_copy")
    misses = [(items[p.a].name, items[p.b].name) for p in pairs
              if p.cls != "copy_vs_copy" and p.positive != ((p.a, p.b) in found)]
    assert total.tp / max(1, total.tp + total.fp) >= 0.99, misses
    assert total.recall >= 0.95, misses
    assert all(s.fp == 0 for c, s in per.items() if c.startswith("hard")), misses


def test_alignment_recovers_rate_offset_and_flip(labelled):
    items, sigs = labelled
    by = {it.name: k for k, it in enumerate(items)}
    orig = sigs[by["bikes__original"]]
    fast = align(orig, sigs[by["bikes__retime_fast"]])  # the copy plays 1.25x fast: 0.8 s of it per s of A
    assert fast is not None and abs(fast.rate - 0.8) < 0.03 and abs(fast.offset) < 0.2 and not fast.flipped
    assert "1.25x speed" in fast.describe("A", "B") and fast.coverage > 0.9
    slow = align(orig, sigs[by["bikes__retime_slow"]])
    assert slow is not None and abs(slow.rate - 1.25) < 0.03 and "0.80x speed" in slow.describe()
    sub = align(orig, sigs[by["bikes__subclip"]])  # B starts 30% (3 s) into A
    assert sub is not None and abs(sub.rate - 1) < 0.03 and abs(sub.offset + 3.0) < 0.2
    assert "the same speed" in sub.describe()
    flipped = align(orig, sigs[by["bikes__hflip"]])
    assert flipped is not None and flipped.flipped and flipped.score > 0.9
    # another shot of the same film lines up with nothing
    other = align(sigs[by["bikes__window0"]], sigs[by["bikes__window1"]])
    assert other is None or other.score < 0.4


def test_signature_ignores_black_borders_and_saves(labelled, tmp_path):
    items, sigs = labelled
    by = {it.name: k for k, it in enumerate(items)}
    box = sigs[by["bikes__letterbox"]]
    assert box.has_borders and not sigs[by["bikes__original"]].has_borders
    path = tmp_path / "s.npz"
    box.save(path)
    back = VideoSignature.load(path)
    assert np.array_equal(back.frames, box.frames) and back.crop == box.crop and back.fps == box.fps
    with pytest.raises(ValueError, match="grey frames"):
        signature_from_grey(np.zeros((0, 36, 64), np.uint8), 20.0)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


BUILD = {"pipeline": ["standardize", "features", "dedup"],
         "stages": {"standardize": {"width": 320, "height": 176, "num_frames": 21, "max_clips": 3}}}


def test_build_of_a_video_and_its_retimed_damaged_copy_keeps_the_video_alone(media_dir, tmp_path):
    video = tmp_path / "in1" / "cockatoo.mp4"
    video.parent.mkdir()
    # the video: 6 s of the cockatoo at 20 fps, with its audio-less stream as published
    _ffmpeg("-i", str(media_dir / "imageio_cockatoo.mp4"), "-t", "6", "-vf", "scale=480:-2", "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", str(video))
    # its copy: the same frames with a 25 fps header (plays 1.25x fast), no audio, a few blanked and
    # damaged frames, another encoder setting and container
    both = tmp_path / "in2"
    both.mkdir()
    (both / "cockatoo.mp4").write_bytes(video.read_bytes())
    _ffmpeg("-i", str(video), "-an", "-vf", "setpts=PTS/1.25,drawbox=enable='between(n,20,22)':x=0:y=0:w=iw:h=ih:"
            "color=black:t=fill,noise=alls=80:allf=t:enable='between(n,50,51)'", "-r", "25", "-c:v", "libx264",
            "-preset", "ultrafast", "-crf", "26", str(both / "copy_retimed.mkv"))
    alone = build(video.parent, tmp_path / "out1", load_config(BUILD), progress=False)
    mixed = build(both, tmp_path / "out2", load_config(BUILD), progress=False)
    kept_alone = sorted(r.id for r in alone.records if r.kind == "clip" and r.ok)
    kept_mixed = sorted(r.id for r in mixed.records if r.kind == "clip" and r.ok)
    assert len(kept_alone) == 3 and kept_mixed == kept_alone
    copies = [r for r in mixed.records if r.kind == "clip" and r.fields.get("input_relpath") == "copy_retimed.mkv"]
    assert copies and all(r.reason == "near_duplicate" and r.rejected_by == "dedup" for r in copies)
    for r in copies:
        assert r.fields["duplicate_of"] in kept_alone and r.fields["dedup_score"] >= 0.4
        assert "1.25x speed" in r.fields["dedup_evidence"] and "cockatoo.mp4" in r.message
        # told from the kept video's side: the copy covers 0.8 s of its clock per second of the video
        assert abs(r.fields["dedup_alignment"]["rate"] - 0.8) < 0.02 and r.fields["duplicate_of_source"]
    card = (tmp_path / "out2" / "README.md").read_text()
    assert "Near-duplicates" in card and copies[0].fields["duplicate_of"] in card and "1.25x speed" in card
