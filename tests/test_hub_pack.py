"""Packing a built dataset's videos as Ditto-1M split archives: naming, sizes, determinism, round trips."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hub_servers import DITTO_VIDEOS, repo_files

from ditto_data.hub import extract, pack, parse_size

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def built(tmp_path, media_dir):
    """A dataset folder as `ditto-data build` leaves it: loose videos under videos/<folder>/<shard>/."""
    out = tmp_path / "built"
    for rel, clip in DITTO_VIDEOS.items():
        if rel.split("/")[0] in ("source", "local", "global_style1"):
            dest = out / "videos" / rel.replace("global_style1", "global_style")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(media_dir / clip, dest)
    (out / ".ditto").mkdir()
    return out


def _parts(out: Path, folder: str) -> list[Path]:
    return sorted((out / "videos").glob(f"{folder}.tar.gz.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))


def test_parse_size():
    assert parse_size("2GB") == 2 * 10**9
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("40kb") == 40_000
    assert parse_size(1234) == 1234
    for bad in ("", "2XB", "-1", "0"):
        with pytest.raises(ValueError, match="bad size"):
            parse_size(bad)


def test_pack_writes_ditto_named_parts_that_system_tar_and_extract_read_back(built, tmp_path):
    originals = repo_files(built / "videos")
    results = pack(built, "40KB", progress=False)
    assert {r.folder: r.status for r in results} == {"source": "packed", "local": "packed", "global_style": "packed",
                                                     "webdataset/source": "written"}  # no metadata: sources only
    source_parts = _parts(built, "source")
    assert [p.name for p in source_parts] == [f"source.tar.gz.{i:02d}" for i in range(1, len(source_parts) + 1)]
    assert len(source_parts) >= 3
    assert {p.stat().st_size for p in source_parts[:-1]} == {40_000} and source_parts[-1].stat().st_size <= 40_000
    # Ditto's own recipe: `cat <folder>.tar.gz.* | tar -zxv` in videos/
    sys_dir = tmp_path / "sys"
    sys_dir.mkdir()
    for folder in ("source", "local", "global_style"):
        cat = subprocess.Popen(["cat", *map(str, _parts(built, folder))], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-zx", "-C", str(sys_dir)], stdin=cat.stdout, check=True)
        cat.stdout.close()
        assert cat.wait() == 0
    assert repo_files(sys_dir) == originals
    # and ours, from a copy holding only the parts
    ds = tmp_path / "ds"
    (ds / "videos").mkdir(parents=True)
    for p in (built / "videos").glob("*.tar.gz.*"):
        shutil.copy(p, ds / "videos" / p.name)
    extract(ds, progress=False)
    assert {k: v for k, v in repo_files(ds / "videos").items() if k.endswith(".mp4")} == originals


def test_packing_is_deterministic_and_skips_unchanged_folders(built, tmp_path):
    pack(built, "40KB", progress=False)
    first = {p.name: p.read_bytes() for p in (built / "videos").glob("*.tar.gz.*")}
    copy = tmp_path / "copy"
    shutil.copytree(built / "videos", copy / "videos", ignore=shutil.ignore_patterns("*.tar.gz.*"))
    for p in (copy / "videos").rglob("*.mp4"):
        os.utime(p, (1_000_000, 1_000_000))  # different mtimes, same content
    pack(copy, "40KB", progress=False)
    assert {p.name: p.read_bytes() for p in (copy / "videos").glob("*.tar.gz.*")} == first
    assert {r.status for r in pack(built, "40KB", progress=False)} == {"unchanged"}


def test_repacking_with_bigger_parts_removes_stale_parts(built):
    pack(built, "40KB", folders=["source"], progress=False)
    assert len(_parts(built, "source")) >= 3
    (res,) = pack(built, "10MB", folders=["source"], progress=False)
    assert res.status == "packed" and [p.name for p in _parts(built, "source")] == ["source.tar.gz.01"]
    assert not [p for p in (built / "videos").iterdir() if ".tmp-" in p.name]


def test_unknown_folder_is_a_clear_error(built):
    with pytest.raises(FileNotFoundError, match="no video folder nope"):
        pack(built, "1MB", folders=["nope"], progress=False)


def test_cli_pack(built):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-m", "ditto_data.cli", "pack", str(built), "--part-size", "40KB",
                        "--folder", "local", "--quiet"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "local" in r.stdout and "packed" in r.stdout
    assert _parts(built, "local") and not _parts(built, "source")
