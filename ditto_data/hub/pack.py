"""Write a built dataset's video folders as Ditto-1M split archives: ``videos/<folder>.tar.gz.NN``.

So our datasets publish (and extract, with ``cat <folder>.tar.gz.* | tar -zxv`` or
``ditto-data extract``) exactly like Ditto-1M. Members are ``<folder>/<shard>/...`` in sorted
order with fixed owner, mode and mtime, and gzip's header time is zero, so packing the same
files twice gives the same bytes. Parts are written under temporary names and renamed only when
the whole archive is written; stale higher-numbered parts of an earlier pack are removed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..units import parse_size
from .. import atomic
from ..layout import VIDEOS, state_dir
from .parts import PART_RE

log = logging.getLogger(__name__)

DEFAULT_PART_SIZE = "2GB"


@dataclass
class PackResult:
    folder: str
    parts: list[Path]
    files: int
    bytes: int  # total size of the parts
    status: str  # "packed" | "unchanged"


class _SplitWriter(io.RawIOBase):
    """A write-only stream cut into files of ``part_size`` bytes, named ``<name>.tar.gz.NN``."""

    def __init__(self, folder: Path, name: str, part_size: int) -> None:
        super().__init__()
        self.folder, self.name, self.part_size = folder, name, part_size
        self.tmp_parts: list[Path] = []
        self._fh = None
        self._left = 0

    def writable(self) -> bool:
        return True

    def _open_next(self) -> None:
        self._close_current()
        nn = len(self.tmp_parts) + 1
        tmp = self.folder / f".{self.name}.tar.gz.{nn:02d}{atomic.TMP_MARK}pack"
        self._fh = open(tmp, "wb")  # noqa: SIM115 - closed in _close_current
        self.tmp_parts.append(tmp)
        self._left = self.part_size

    def _close_current(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    def write(self, b) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        done = 0
        while done < len(view):
            if self._fh is None or self._left == 0:
                self._open_next()
            n = min(self._left, len(view) - done)
            self._fh.write(view[done:done + n])
            self._left -= n
            done += n
        return done

    def finish(self) -> list[Path]:
        """Rename the parts into place and drop stale parts of an earlier, longer pack."""
        self._close_current()
        if not self.tmp_parts:
            self._open_next()
            self._close_current()
        final = []
        for i, tmp in enumerate(self.tmp_parts, 1):
            dest = self.folder / f"{self.name}.tar.gz.{i:02d}"
            os.replace(tmp, dest)
            final.append(dest)
        keep = {p.name for p in final}
        for p in self.folder.glob(f"{self.name}.tar.gz.*"):
            m = PART_RE.match(p.name)
            if m and m["name"] == self.name and p.name not in keep:
                p.unlink()
        return final

    def abort(self) -> None:
        self._close_current()
        for tmp in self.tmp_parts:
            tmp.unlink(missing_ok=True)


def _entries(vdir: Path, folder: str) -> list[Path]:
    """Every folder and file of ``videos/<folder>`` in sorted order (hidden and temporary files left out)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(vdir / folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.append(Path(dirpath))
        out += [Path(dirpath) / f for f in sorted(filenames) if not f.startswith(".") and atomic.TMP_MARK not in f]
    return out


def _fingerprint(vdir: Path, entries: list[Path], part_size: int, level: int) -> str:
    h = hashlib.sha256(f"{part_size}:{level}".encode())
    for p in entries:
        st = p.stat()
        h.update(f"{p.relative_to(vdir).as_posix()}\0{st.st_size if p.is_file() else -1}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def pack(out_dir: str | Path, part_size: str | int = DEFAULT_PART_SIZE, *, folders: list[str] | None = None,
         compresslevel: int = 1, progress: bool = True, webdataset: bool = True,
         shard_size: str | int = "1GB") -> list[PackResult]:
    """Pack ``out_dir/videos/<folder>/`` (every folder, or ``folders``) into split archives beside it.

    ``compresslevel`` defaults to 1: H.264 videos hardly compress and level 6 only costs time.
    A folder whose files and settings are unchanged since its last pack is not packed again.

    With ``webdataset`` (the default, and only when every folder is packed) it also writes each
    config's WebDataset shards for the Hub (``webdataset/<config>/``, see
    :func:`ditto_data.exports.webdataset.write_hub_shards`) and points the card's ``configs`` at
    them: the split archives serve Ditto-1M's tools and ``download --extract``, the shards serve
    stock ``load_dataset`` from the Hub. Those results are named ``webdataset/<config>``.
    """
    out_dir = Path(out_dir)
    vdir = out_dir / VIDEOS
    if not vdir.is_dir():
        raise FileNotFoundError(f"{out_dir}: no {VIDEOS}/ folder to pack")
    size = parse_size(part_size)
    available = sorted(p.name for p in vdir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if folders:
        missing = sorted(set(folders) - set(available))
        if missing:
            raise FileNotFoundError(f"{vdir}: no video folder {', '.join(missing)} (have {', '.join(available)})")
        available = [f for f in available if f in folders]
    results = []
    for folder in available:
        results.append(_pack_folder(out_dir, vdir, folder, size, compresslevel, progress))
    if webdataset and not folders:
        results += _pack_webdataset(out_dir, shard_size, progress)
    return results


def _pack_webdataset(out_dir: Path, shard_size: str | int, progress: bool) -> list[PackResult]:
    from ..cards import refresh_configs
    from ..dataset.shards import INDEX
    from ..exports.webdataset import write_hub_shards

    results = []
    for config, (status, shards) in write_hub_shards(out_dir, shard_size, progress).items():
        index = json.loads((shards[0].parent / INDEX).read_text())
        results.append(PackResult(f"webdataset/{config}", shards, sum(s["nsamples"] for s in index["shardlist"]),
                                  sum(p.stat().st_size for p in shards), status))
    refresh_configs(out_dir)
    return results


def _pack_folder(out_dir: Path, vdir: Path, folder: str, part_size: int, level: int, progress: bool) -> PackResult:
    entries = _entries(vdir, folder)
    files = [p for p in entries if p.is_file()]
    manifest = state_dir(out_dir) / "pack" / f"{folder}.json"
    fp = _fingerprint(vdir, entries, part_size, level)
    if manifest.is_file():
        old = json.loads(manifest.read_text())
        parts = [vdir / n for n, _ in old.get("parts", [])]
        if old.get("fingerprint") == fp and all(p.is_file() and p.stat().st_size == s
                                                for p, (_, s) in zip(parts, old["parts"])):
            log.info("%s: unchanged since it was packed, keeping %d parts", folder, len(parts))
            return PackResult(folder, parts, len(files), sum(p.stat().st_size for p in parts), "unchanged")
    writer = _SplitWriter(vdir, folder, part_size)
    total = sum(p.stat().st_size for p in files)
    try:
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"pack {folder}", disable=not progress) as bar, \
                gzip.GzipFile(filename="", mode="wb", fileobj=writer, compresslevel=level, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT) as tar:
            for p in entries:
                info = tarfile.TarInfo(p.relative_to(vdir).as_posix())
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                if p.is_dir():
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                    continue
                info.size, info.mode = p.stat().st_size, 0o644
                with open(p, "rb") as f:
                    tar.addfile(info, f)
                bar.update(info.size)
        parts = writer.finish()
    except BaseException:
        writer.abort()
        raise
    atomic.write_json(manifest, {"fingerprint": fp, "parts": [[p.name, p.stat().st_size] for p in parts]})
    nbytes = sum(p.stat().st_size for p in parts)
    log.info("%s: %d files -> %d parts (%d bytes)", folder, len(files), len(parts), nbytes)
    return PackResult(folder, parts, len(files), nbytes, "packed")
