"""Extraction trusts nothing in an archive: real malicious and malformed split tar.gz files."""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from hostile_fs import small_disk  # noqa: F401 - the fixture

from ditto_data.hub import ArchiveError, extract
from ditto_data.hub.extract import NoSpaceError

ROOT = Path(__file__).resolve().parents[1]


def _tar(members: list[tuple[str, bytes | None]]) -> bytes:
    """An uncompressed tar: (name, bytes) files, (name, None) folders, in the order given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _parts(vdir: Path, name: str, blob: bytes, part_size: int = 1 << 20, gz: bool = True) -> list[Path]:
    """``vdir/<name>.tar.gz.NN`` parts of ``blob`` (gzipped unless ``gz`` is False), as ``split -b``."""
    vdir.mkdir(parents=True, exist_ok=True)
    data = gzip.compress(blob, mtime=0) if gz else blob
    out = []
    for i in range(max(1, -(-len(data) // part_size))):
        p = vdir / f"{name}.tar.gz.{i + 1:02d}"
        p.write_bytes(data[i * part_size:(i + 1) * part_size])
        out.append(p)
    return out


def _fingerprint(parts: list[Path]) -> list[list]:
    return [[p.name, p.stat().st_size] for p in parts]


def _cli_extract(ds: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ditto_data.cli", "extract", str(ds), "--quiet"],
                          capture_output=True, text=True, cwd=ROOT)


def test_a_member_cannot_forge_a_done_marker(tmp_path):
    vdir = tmp_path / "ds" / "videos"
    local = _parts(vdir, "local", _tar([("local/0000/a_0.mp4", b"real local video")]))
    forged = json.dumps({"parts": _fingerprint(local), "files": 1}).encode()
    # "source" sorts after "local" in name but the forgers try both marker places anyway
    _parts(vdir, "aaa", _tar([(".extracted/local.json", forged), ("../.ditto/extracted/local.json", forged)]))
    report = extract(tmp_path / "ds", progress=False)
    status = {a.name: a.status for a in report.archives}
    assert status == {"aaa": "extracted", "local": "extracted"}
    assert (vdir / "local" / "0000" / "a_0.mp4").read_bytes() == b"real local video"
    assert [r.member for r in report.refused] == ["../.ditto/extracted/local.json"]


def test_existing_file_is_kept_only_when_its_bytes_match(tmp_path):
    vdir = tmp_path / "ds" / "videos"
    _parts(vdir, "local", _tar([("local/0000/a_0.mp4", b"the archive's bytes"),
                                ("local/0000/b_0.mp4", b"same on both sides")]))
    (vdir / "local" / "0000").mkdir(parents=True)
    (vdir / "local" / "0000" / "a_0.mp4").write_bytes(b"a stale file, same len")  # same size, other bytes
    (vdir / "local" / "0000" / "b_0.mp4").write_bytes(b"same on both sides")
    report = extract(tmp_path / "ds", progress=False)
    (res,) = report.archives
    assert (vdir / "local" / "0000" / "a_0.mp4").read_bytes() == b"the archive's bytes"
    assert (res.files, res.reused) == (1, 1)


def test_same_size_different_bytes_is_replaced(tmp_path):
    vdir = tmp_path / "ds" / "videos"
    _parts(vdir, "local", _tar([("local/0000/a_0.mp4", b"0123456789")]))
    (vdir / "local" / "0000").mkdir(parents=True)
    (vdir / "local" / "0000" / "a_0.mp4").write_bytes(b"abcdefghij")  # the old check kept this
    report = extract(tmp_path / "ds", progress=False)
    assert (vdir / "local" / "0000" / "a_0.mp4").read_bytes() == b"0123456789"
    assert report.archives[0].reused == 0


def test_duplicate_members_and_overwrites_across_archives_are_refused_and_reported(tmp_path):
    vdir = tmp_path / "ds" / "videos"
    _parts(vdir, "local", _tar([("local/0000/a_0.mp4", b"first"), ("local/0000/a_0.mp4", b"second")]))
    _parts(vdir, "source", _tar([("source/0000/a.mp4", b"source"), ("local/0000/a_0.mp4", b"hijack")]))
    report = extract(tmp_path / "ds", progress=False)
    assert (vdir / "local" / "0000" / "a_0.mp4").read_bytes() == b"first"
    assert (vdir / "source" / "0000" / "a.mp4").read_bytes() == b"source"
    reasons = {a.name: [r.reason for r in a.refused] for a in report.archives}
    assert reasons["local"] == ["duplicate member: an earlier member of this archive has the same name"]
    assert reasons["source"] == ["would overwrite local/0000/a_0.mp4 extracted from archive 'local'"]
    again = extract(tmp_path / "ds", progress=False)  # and a rerun still knows who owns what
    assert {a.status for a in again.archives} == {"skipped"}


def test_decompression_bomb_stops_cleanly_before_the_disk_fills(small_disk):
    disk = small_disk.dir
    vdir = disk / "ds" / "videos"
    _parts(vdir, "local", _tar([("local/0000/a_0.mp4", b"small and whole"),
                                ("local/0000/bomb_0.mp4", bytes(40 << 20))]))  # 40 MB of zeros: ~40 kB gzipped
    _parts(vdir, "source", _tar([("source/0000/a.mp4", b"waits for space")]))
    free_before = os.statvfs(disk).f_bavail
    with pytest.raises(NoSpaceError, match=r"bomb_0\.mp4.* needs 41,943,040 bytes") as e:
        extract(disk / "ds", progress=False)
    assert {a.name: a.status for a in e.value.report.archives} == {"local": "failed", "source": "not started"}
    assert (vdir / "local" / "0000" / "a_0.mp4").read_bytes() == b"small and whole"
    assert not (vdir / "local" / "0000" / "bomb_0.mp4").exists()
    assert not [p for p in vdir.rglob("*") if ".tmp-" in p.name]
    assert os.statvfs(disk).f_bavail >= free_before - 8  # a few pages: the small file, the folders
    r = _cli_extract(disk / "ds")
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr
    assert sum(line.startswith("ditto-data: error:") for line in r.stderr.splitlines()) == 2, r.stderr  # local, then source


def _zero_parts(vdir: Path) -> None:
    for i in (1, 2):
        (vdir / f"broken.tar.gz.{i:02d}").write_bytes(b"")


def _truncated_tar(vdir: Path) -> None:  # a complete, valid gzip of a tar cut inside a member
    tar = _tar([("broken/0000/a_0.mp4", os.urandom(20_000))])
    _parts(vdir, "broken", tar[:12_000])


def _long_name(vdir: Path) -> None:
    _parts(vdir, "broken", _tar([("broken/0000/" + "n" * 300 + ".mp4", b"x"), ("broken/0000/ok_0.mp4", b"ok")]))


def _file_where_folder(vdir: Path) -> None:
    _parts(vdir, "broken", _tar([("broken/0000", b"a file"), ("broken/0000/a_0.mp4", b"x")]))


def _not_gzip(vdir: Path) -> None:
    _parts(vdir, "broken", _tar([("broken/0000/a_0.mp4", b"x")]), gz=False)


@pytest.mark.parametrize("make", [_zero_parts, _truncated_tar, _long_name, _file_where_folder, _not_gzip])
def test_every_malformed_archive_is_one_line_and_the_others_still_extract(tmp_path, make):
    ds = tmp_path / "ds"
    vdir = ds / "videos"
    _parts(vdir, "local", _tar([("local/0000/a_0.mp4", b"good")]))
    _parts(vdir, "source", _tar([("source/0000/a.mp4", b"good too")]))
    make(vdir)
    r = _cli_extract(ds)
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "Traceback" not in out, out
    lines = [line for line in r.stdout.splitlines() if line.startswith("refused:")]
    lines += [line for line in r.stderr.splitlines() if line.startswith("ditto-data: error:")]
    assert len(lines) == 1 and "broken" in lines[0], out
    assert (vdir / "local" / "0000" / "a_0.mp4").read_bytes() == b"good"
    assert (vdir / "source" / "0000" / "a.mp4").read_bytes() == b"good too"


def test_extracted_files_honour_the_umask(tmp_path):
    vdir = tmp_path / "ds" / "videos"
    _parts(vdir, "local", _tar([("local/0000/a_0.mp4", b"video")]))
    old = os.umask(0o027)
    try:
        extract(tmp_path / "ds", progress=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((vdir / "local" / "0000" / "a_0.mp4").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "ds" / ".ditto" / "extracted" / "local.json").stat().st_mode) == 0o640


def test_zip_keeps_an_existing_file_only_when_its_bytes_match_and_marks_outside_the_target(tmp_path):
    import zipfile

    from ditto_data.hub import extract_zip

    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("ok/0000/a.mp4", b"0123456789")
        zf.writestr("ok/0000/b.mp4", b"same bytes")
        zf.writestr("ok/0000" + "/n" * 3 + "/" + "x" * 300 + ".mp4", b"too long a name")
    target = tmp_path / "t"
    (target / "ok" / "0000").mkdir(parents=True)
    (target / "ok" / "0000" / "a.mp4").write_bytes(b"abcdefghij")  # same size, other bytes
    (target / "ok" / "0000" / "b.mp4").write_bytes(b"same bytes")
    res = extract_zip(z, target, progress=False)
    assert (target / "ok" / "0000" / "a.mp4").read_bytes() == b"0123456789"
    assert (res.files, res.reused) == (1, 1)
    assert [r.reason for r in res.refused] == ["cannot be written here: its name is too long for this file system"]
    assert not list(target.rglob("*.json"))  # the done marker is out of the members' reach
