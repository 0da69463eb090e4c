"""Config values are bounded at load time, each error naming its field, all errors at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ditto_data.builders import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("yaml_text, field", [
    ("stages: {standardize: {fps: .nan}}", "stages.standardize.fps"),
    ("stages: {standardize: {fps: .inf}}", "stages.standardize.fps"),
    ("stages: {dedup: {threshold: .nan}}", "stages.dedup.threshold"),
    ("stages: {motion: {threshold: -.inf}}", "stages.motion.threshold"),
    ("stages: {standardize: {width: 40000}}", "stages.standardize.width"),
    ("stages: {standardize: {height: 0}}", "stages.standardize.height"),
    ("stages: {standardize: {num_frames: 0}}", "stages.standardize.num_frames"),
    ("stages: {standardize: {max_clips: -3}}", "stages.standardize.max_clips"),
    ("stages: {generate: {steps: 0}}", "stages.generate.steps"),
    ("stages: {caption: {max_new_tokens: -1}}", "stages.caption.max_new_tokens"),
    ("stages: {judge: {min_quality: .nan}}", "stages.judge.min_quality"),
    ("export: {shard_size: 0}", "export.shard_size"),
    ("workers: -2", "workers"),
])  # fmt: skip
def test_absurd_values_are_refused_naming_the_field(tmp_path, yaml_text, field):
    p = tmp_path / "build.yaml"
    p.write_text(yaml_text + "\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert e.value.field == field and f"'{field}'" in str(e.value)


def test_every_error_is_reported_at_once_and_the_build_never_starts(tmp_path, media_dir):
    cfg = tmp_path / "build.yaml"
    cfg.write_text("workers: -1\n"
                   "stages:\n"
                   "  standardize: {width: 40000, fps: .nan, num_frames: 0}\n"
                   "  dedup: {threshold: 7, nprobe: 0}\n"
                   "  nosuchstage: {}\n"
                   "export: {shard_size: 0}\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    fields = sorted(x.field for x in e.value.errors)
    assert fields == sorted(["workers", "stages.standardize.width", "stages.standardize.fps",
                      "stages.standardize.num_frames", "stages.dedup.threshold", "stages.dedup.nprobe",
                      "stages.nosuchstage", "export.shard_size"])
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    (inp / "a.mp4").write_bytes((media_dir / "imageio_realshort.mp4").read_bytes())
    r = subprocess.run([sys.executable, "-m", "ditto_data.cli", "build", "--input", str(inp), "--out", str(out),
                        "--config", str(cfg), "--quiet"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "Traceback" not in r.stdout + r.stderr
    assert all(f"'{f}'" in r.stderr for f in fields), r.stderr
    assert not out.exists()  # refused at load time: no ledger, so no per-sample rejection either


def test_a_good_config_still_loads(tmp_path):
    cfg = load_config(ROOT / "configs" / "small.yaml")
    assert cfg.stage_config("standardize").width == 320
