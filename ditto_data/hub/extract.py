"""Extract Ditto-1M split archives into ``videos/`` safely, resumably, with no merged file.

Why each rule:
- members are checked *before* anything is written: absolute paths, ``..``, links that resolve
  outside the target and device/fifo entries are refused (listed in the result, never written);
  Python's ``tarfile.data_filter`` is applied as a second opinion;
- every file is written to a temporary name and renamed (``ditto_data.atomic``), so an
  interrupted run leaves no half-written video under a final name;
- a marker ``.ditto/extracted/<name>.json`` beside ``videos/`` (the parts' names and sizes, the
  files written) is written last, outside anything a member can write, so a rerun skips finished
  archives and redoes an unfinished one; a file already at the destination is kept only if its
  bytes are the member's (sha256), a member that would overwrite another archive's file, or an
  earlier member of its own archive, is refused and reported;
- decompression is bounded: each member's size is checked against the free space before it is
  written, and a full disk stops the extraction cleanly (:class:`NoSpaceError`), files whole;
- a malformed archive (damaged gzip, truncated tar, over-long names, a file where a folder is
  needed) fails alone, with one line naming its part: the other archives still extract;
- members start with ``<category>/``, so they are extracted into ``videos/``; the doubled
  ``videos/<category>/<category>/`` layout users get from extracting inside the category folder
  is repaired by moving its contents up one level.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import posixpath
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .. import atomic
from ..faults import machine_fault
from ..layout import STATE, VIDEOS
from .parts import PART_RE, ArchiveError, GunzipParts, SplitArchive, find_split_archives

log = logging.getLogger(__name__)

MARKERS = ".extracted"  # the old marker folder under videos/ (members could write it: no longer read)
FREE_RESERVE = 1 << 20  # bytes left free on the disk after each member


#: errno -> what it means for a member that cannot be written
_WHY = {errno.ENAMETOOLONG: "its name is too long for this file system",
        errno.EEXIST: "a file stands where one of its folders should be",
        errno.ENOTDIR: "a file stands where one of its folders should be",
        errno.EISDIR: "a folder stands where the file should be"}


class NoSpaceError(ArchiveError):
    """The disk cannot hold the next member: extraction stops cleanly, every written file whole."""


@dataclass
class Refused:
    member: str
    reason: str


@dataclass
class ArchiveResult:
    name: str
    status: str  # "extracted" | "skipped" (finished before) | "failed" (error says why) | "not started"
    files: int = 0
    reused: int = 0  # files already complete on disk from an interrupted run
    bytes: int = 0
    refused: list[Refused] = field(default_factory=list)
    written: list[Path] = field(default_factory=list, repr=False)  # files this run wrote
    members: list[str] = field(default_factory=list, repr=False)  # files of this archive (relative to videos/)
    error: str | None = None  # why it failed, naming the part


@dataclass
class ExtractReport:
    videos_dir: Path
    archives: list[ArchiveResult] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # folders whose doubled layout was moved up
    conflicts: list[str] = field(default_factory=list)  # doubled-layout files left where they are

    @property
    def refused(self) -> list[Refused]:
        return [r for a in self.archives for r in a.refused]

    @property
    def failed(self) -> list[ArchiveResult]:
        return [a for a in self.archives if a.error]


def videos_dir_of(root: str | Path) -> Path:
    """``root/videos`` for a dataset folder, or ``root`` itself when it is the videos folder."""
    root = Path(root)
    if (root / VIDEOS).is_dir():
        return root / VIDEOS
    if root.name == VIDEOS and root.is_dir():
        return root
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such folder")
    raise NotADirectoryError(f"{root}: has no {VIDEOS}/ folder (give the dataset folder or its {VIDEOS}/ folder)")


def extract(root: str | Path, *, names: list[str] | None = None, repair_layout: bool = True,
            delete_parts: bool = False, progress: bool = True) -> ExtractReport:
    """Extract every split archive under ``root/videos`` (or only ``names``) into ``root/videos``.

    Every archive is tried; when some are incomplete or damaged, :class:`ArchiveError` is raised
    at the end, one line per failed archive naming its part, with ``.report`` holding what the
    others did (they keep their done markers, so a rerun goes on from there).
    """
    vdir = videos_dir_of(root)
    report = ExtractReport(vdir)
    if repair_layout:
        report.repaired, report.conflicts = repair_doubled_layout(vdir)
    archives = find_split_archives(vdir)
    if names:
        unknown = sorted(set(names) - {a.name for a in archives})
        if unknown:
            raise FileNotFoundError(f"{vdir}: no split archive named {', '.join(unknown)} "
                                    f"(found: {', '.join(a.name for a in archives) or 'none'})")
        archives = [a for a in archives if a.name in names]
    with atomic.exclusive(_marker_dir(vdir) / "extract.lock", f"{vdir} (extraction)"):
        if any(not is_extracted(a, vdir) for a in archives):
            n = atomic.sweep_tmp(vdir)  # temporary files a killed run left behind
            if n:
                log.info("removed %d temporary files left by an interrupted run", n)
        def run(a: SplitArchive) -> ArchiveResult:
            res = extract_archive(a, vdir, progress=progress)
            if delete_parts:
                for p in a.parts:
                    p.unlink(missing_ok=True)
            return res

        stop, damaged = _extract_each([(a.name, lambda a=a: run(a)) for a in archives], report)
    for name, status in _finished_without_parts(vdir, {a.name for a in archives}, names):
        report.archives.append(ArchiveResult(name, status))
    _raise_failures(report, stop, damaged)
    return report


def _extract_each(jobs: list[tuple[str, Callable[[], ArchiveResult]]],
                  report: ExtractReport) -> tuple[str | None, bool]:
    """Run each archive's extraction into ``report``: one that fails is recorded (its error names the
    part) and the others go on, except after a full disk. Returns (why the rest stopped, whether
    bad bytes were inflated)."""
    stop: str | None = None
    damaged = False
    for name, job in jobs:
        if stop:
            report.archives.append(ArchiveResult(name, "not started", error=f"{name}: not started: {stop}"))
            continue
        try:
            report.archives.append(job())
        except ArchiveError as e:  # this archive alone failed; the others go on (raised with the report)
            log.debug("%s", e)
            damaged = damaged or e.damaged
            report.archives.append(ArchiveResult(name, "failed", error=str(e)))
            if isinstance(e, NoSpaceError):
                stop = "the disk is full"
    return stop, damaged


def _raise_failures(report: ExtractReport, stop: str | None, damaged: bool) -> None:
    if report.failed:
        err = (NoSpaceError if stop else ArchiveError)("\n".join(a.error for a in report.failed), damaged=damaged)
        err.report = report  # what did extract, for the caller to show
        raise err


def _marker_dir(vdir: Path, markers: Path | None = None) -> Path:
    """Where the done markers of archives extracted into ``vdir`` live: ``markers`` when given, else
    ``<dataset>/.ditto/extracted`` beside ``videos/``; never under ``vdir``, where members write."""
    return markers if markers is not None else vdir.resolve().parent / STATE / "extracted"


def _marker(vdir: Path, name: str, markers: Path | None = None) -> Path:
    return _marker_dir(vdir, markers) / f"{name}.json"


def _owners(vdir: Path, name: str, markers: Path | None = None) -> dict[str, str]:
    """File (relative to ``vdir``) -> the other finished archive it came from."""
    owners: dict[str, str] = {}
    mdir = _marker_dir(vdir, markers)
    for m in sorted(mdir.glob("*.json")) if mdir.is_dir() else []:
        if m.stem == name:
            continue
        try:
            for f in json.loads(m.read_text()).get("members", []):
                owners.setdefault(f, m.stem)
        except (OSError, ValueError, AttributeError):
            continue
    return owners


def _parts_fingerprint(a: SplitArchive) -> list[list]:
    return [[p.name, p.stat().st_size] for p in a.parts]


def _finished_without_parts(vdir: Path, seen: set[str], names: list[str] | None):
    """Archives extracted earlier whose parts were deleted afterwards: report them as skipped."""
    mdir = _marker_dir(vdir)
    if not mdir.is_dir():
        return
    for m in sorted(mdir.glob("*.json")):
        if m.stem not in seen and (not names or m.stem in names):
            yield m.stem, "skipped"


def is_extracted(a: SplitArchive, vdir: Path, markers: Path | None = None) -> bool:
    m = _marker(vdir, a.name, markers)
    if not m.is_file():
        return False
    try:
        return json.loads(m.read_text())["parts"] == _parts_fingerprint(a)
    except (ValueError, KeyError):
        return False


def extract_archive(a: SplitArchive, vdir: Path, *, progress: bool = True, markers: Path | None = None) -> ArchiveResult:
    """Stream ``a``'s parts through gunzip and tar into ``vdir``; skip it if already finished."""
    if is_extracted(a, vdir, markers):
        log.info("%s: already extracted, skipping", a.name)
        return ArchiveResult(a.name, "skipped")
    a.check()
    res = ArchiveResult(a.name, "extracted")
    target = vdir.resolve()
    owners = _owners(vdir, a.name, markers)
    seen: set[str] = set()
    stream = GunzipParts(a.parts)
    bar = tqdm(total=a.size, unit="B", unit_scale=True, desc=f"extract {a.name}", disable=not progress)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                reason = check_member(member, target)
                rel = posixpath.normpath(member.name)
                if reason is None and not member.isdir():
                    if rel in seen:
                        reason = "duplicate member: an earlier member of this archive has the same name"
                    elif rel in owners:
                        reason = f"would overwrite {rel} extracted from archive {owners[rel]!r}"
                if reason is None:
                    try:
                        reason = _write_member(tar, member, target, res)
                    except OSError as e:
                        if e.errno in (errno.ENOSPC, errno.EDQUOT):
                            raise NoSpaceError(f"{stream.current_part}: cannot write {member.name!r}: "
                                               f"{e.strerror}; stopped cleanly (files written are whole; "
                                               f"free space and run again)") from None
                        if machine_fault(e):
                            raise  # the machine's fault (EIO, EMFILE...): stop, do not blame the member
                        reason = f"cannot be written here: {_WHY.get(e.errno, e.strerror or e)}"
                if reason is None and not member.isdir():
                    seen.add(rel)
                    res.members.append(rel)
                if reason is not None:
                    log.warning("%s: refused member %r: %s", a.name, member.name, reason)
                    res.refused.append(Refused(member.name, reason))
                bar.n = stream.compressed_read
                bar.refresh()
    except ArchiveError as e:
        if e.damaged:
            _remove(res.written)
            raise ArchiveError(f"{e} ({len(res.written)} files extracted from it were removed: they may hold "
                               f"the damaged bytes)", damaged=True) from None
        raise
    except tarfile.TarError as e:
        _remove(res.written)
        raise ArchiveError(f"{stream.current_part}: tar error ({e}): the archive is damaged "
                           f"({len(res.written)} files extracted from it were removed)", damaged=True) from None
    finally:
        bar.close()
        stream.close()
    atomic.write_json(_marker(vdir, a.name, markers), {
        "parts": _parts_fingerprint(a), "files": res.files + res.reused, "members": sorted(res.members),
        "refused": [[r.member, r.reason] for r in res.refused]})
    log.info("%s: %d files extracted, %d already there, %d refused", a.name, res.files, res.reused,
             len(res.refused))
    return res


def _remove(paths: list[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def check_member(member: tarfile.TarInfo, target: Path) -> str | None:
    """Why ``member`` must not be extracted into ``target``, or None when it is safe.

    Our own rules first, then ``tarfile.data_filter`` (Python's "data" filter) as a second check.
    """
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "path contains '..'"
    if member.isdev() or member.isfifo():
        return "device or fifo entry"
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        return f"unsupported entry type {member.type!r}"
    root = str(target)
    if member.issym():
        if member.linkname.startswith("/"):
            return f"symlink to absolute path {member.linkname!r}"
        dest = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
        if dest == ".." or dest.startswith("../"):
            return f"symlink points outside the target ({member.linkname!r})"
    if member.islnk():
        dest = posixpath.normpath(member.linkname)
        if member.linkname.startswith("/") or dest == ".." or dest.startswith("../"):
            return f"hard link points outside the target ({member.linkname!r})"
    if hasattr(tarfile, "data_filter"):
        try:
            tarfile.data_filter(member, root)
        except tarfile.FilterError as e:
            return f"refused by tarfile's data filter: {e}"
    return None


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, res: ArchiveResult) -> str | None:
    rel = posixpath.normpath(member.name)
    if rel in (".", ""):
        return None
    dest = target / rel
    root = str(target)
    # Links already on disk (from this archive or a user's) must not redirect a write outside.
    if not _inside(os.path.realpath(dest.parent), root):
        return "parent folder resolves outside the target (through a symlink)"
    if member.isdir():
        dest.mkdir(parents=True, exist_ok=True)
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    if member.isreg():
        free = shutil.disk_usage(dest.parent).free
        if member.size + FREE_RESERVE > free:
            raise NoSpaceError(f"{member.name!r} needs {member.size:,} bytes but {dest.parent} has {free:,} free: "
                               f"stopped before writing it (files written are whole; free space and run again)")
        same = dest.is_file() and not dest.is_symlink() and dest.stat().st_size == member.size
        src = tar.extractfile(member)
        digest = hashlib.sha256()
        try:
            with atomic.atomic_path(dest) as tmp:
                with open(tmp, "wb") as f:
                    shutil.copyfileobj(src, _Hashing(f, digest) if same else f, 1 << 20)
                if same and _sha256(dest) == digest.digest():
                    raise _Same  # written whole by an interrupted run: keep it, drop the copy
                os.chmod(tmp, (0o777 if member.mode & 0o100 else 0o666) & ~atomic.umask())
                if member.mtime > 0:
                    os.utime(tmp, (member.mtime, member.mtime))
        except _Same:
            res.reused += 1
            return None
        res.files += 1
        res.bytes += member.size
        res.written.append(dest)
        return None
    if member.issym():
        link_dest = os.path.realpath(dest.parent / member.linkname)
        if not _inside(link_dest, root):
            return f"symlink points outside the target ({member.linkname!r})"
        tmp = dest.with_name(f".{dest.name}{atomic.TMP_MARK}link")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(member.linkname, tmp)
        os.replace(tmp, dest)
        res.files += 1
        return None
    # hard link: its target is an earlier member, already extracted under target
    src = target / posixpath.normpath(member.linkname)
    if not src.is_file() or not _inside(os.path.realpath(src), root):
        return f"hard link to {member.linkname!r}, which is not an extracted file"
    atomic.link_or_copy(src, dest)
    res.files += 1
    return None


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc


class _Same(Exception):
    """The file at the destination already holds the member's bytes."""


class _Hashing:
    """A writable file that also feeds what is written to a hash."""

    def __init__(self, f, digest) -> None:
        self.f, self.digest = f, digest

    def write(self, b) -> int:
        self.digest.update(b)
        return self.f.write(b)


def _sha256(path: Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.digest()


def repair_doubled_layout(vdir: Path) -> tuple[list[str], list[str]]:
    """Move ``videos/<x>/<x>/*`` up to ``videos/<x>/``; returns (repaired folders, conflicts left).

    A file present in both places with the same size is a duplicate and the doubled copy is
    dropped; a different file is left in the doubled folder and reported.
    """
    repaired: list[str] = []
    conflicts: list[str] = []
    for d in sorted(p for p in vdir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        inner = d / d.name
        if not inner.is_dir() or inner.is_symlink():
            continue
        # Rename first so an inner entry named like the folder cannot collide with the folder itself.
        staging = d / f".{d.name}.repair"
        if staging.exists():
            _merge_into(inner, staging, conflicts)
        else:
            os.replace(inner, staging)
        _merge_into(staging, d, conflicts)
        if staging.exists():
            os.replace(staging, inner)  # conflicts remain where the user had them
        repaired.append(d.name)
        log.info("repaired doubled layout %s/%s/ -> %s/", d.name, d.name, d.name)
    return repaired, conflicts


def _merge_into(src: Path, dst: Path, conflicts: list[str]) -> None:
    for entry in sorted(src.iterdir()):
        to = dst / entry.name
        if not to.exists() and not to.is_symlink():
            os.replace(entry, to)
        elif entry.is_dir() and not entry.is_symlink() and to.is_dir() and not to.is_symlink():
            _merge_into(entry, to, conflicts)
        elif entry.is_file() and to.is_file() and entry.stat().st_size == to.stat().st_size:
            entry.unlink()
        else:
            conflicts.append(str(entry))
            log.warning("doubled layout: %s differs from %s; left in place", entry, to)
    try:
        src.rmdir()
    except OSError:
        pass


# -- other datasets' archives: a tar.gz extracted in place, ZIPs into a root (ditto_data.catalog) ----


def extract_zip(path: Path, target: Path, *, name: str | None = None, progress: bool = True,
                markers: Path | None = None) -> ArchiveResult:
    """Extract one ZIP into ``target`` with the guarantees of :func:`extract_archive`: members checked
    before writing (absolute paths, ``..``, symlinks and anything but files and folders refused),
    every file written under a temporary name and renamed, a done marker last, a rerun skips it."""
    name = name or path.name.removesuffix(".zip")
    res = ArchiveResult(name, "extracted")
    mark = _marker(target, name, markers)
    fingerprint = [[path.name, path.stat().st_size]]
    if mark.is_file():
        try:
            if json.loads(mark.read_text())["parts"] == fingerprint:
                return ArchiveResult(name, "skipped")
        except (ValueError, KeyError):
            pass
    target.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(target)
    try:
        with zipfile.ZipFile(path) as zf:
            for info in tqdm(zf.infolist(), desc=f"extract {path.name}", unit="file", disable=not progress):
                reason = _check_zip_member(info)
                rel = posixpath.normpath(info.filename)
                dest = target / rel
                if reason is None and not _inside(os.path.realpath(dest.parent), root):
                    reason = "parent folder resolves outside the target (through a symlink)"
                if reason is not None:
                    log.warning("%s: refused member %r: %s", path.name, info.filename, reason)
                    res.refused.append(Refused(info.filename, reason))
                    continue
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                try:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if (dest.is_file() and not dest.is_symlink() and dest.stat().st_size == info.file_size
                            and _crc32(dest) == info.CRC):  # kept only when its bytes are the member's
                        res.reused += 1
                        continue
                    free = shutil.disk_usage(dest.parent).free
                    if info.file_size + FREE_RESERVE > free:
                        raise NoSpaceError(f"{path}: {info.filename!r} needs {info.file_size:,} bytes but "
                                           f"{dest.parent} has {free:,} free: stopped before writing it")
                    with zf.open(info) as src, atomic.atomic_path(dest) as tmp:
                        with open(tmp, "wb") as f:
                            shutil.copyfileobj(src, f, 1 << 20)  # zipfile checks each member's CRC at its end
                except OSError as e:
                    if e.errno in (errno.ENOSPC, errno.EDQUOT):
                        raise NoSpaceError(f"{path}: cannot write {info.filename!r}: {e.strerror}") from None
                    if machine_fault(e):
                        raise
                    why = f"cannot be written here: {_WHY.get(e.errno, e.strerror or e)}"
                    log.warning("%s: refused member %r: %s", path.name, info.filename, why)
                    res.refused.append(Refused(info.filename, why))
                    continue
                res.files += 1
                res.bytes += info.file_size
                res.written.append(dest)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as e:
        _remove(res.written)
        raise ArchiveError(f"{path}: damaged ZIP ({e}); {len(res.written)} files extracted from it were removed",
                           damaged=True) from None
    atomic.write_json(mark, {"parts": fingerprint, "files": res.files + res.reused,
                             "refused": [[r.member, r.reason] for r in res.refused]})
    return res


def _check_zip_member(info) -> str | None:
    name = info.filename
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "path contains '..'"
    mode = (info.external_attr >> 16) & 0o170000
    if mode == 0o120000:
        return "symlink"
    if mode not in (0, 0o100000, 0o040000):
        return f"unsupported entry type (mode {oct(mode)})"
    return None


def extract_described(root: str | Path, desc, *, progress: bool = True) -> list[ArchiveResult]:
    """Extract every archive a dataset description names (``desc.archives``) that is under ``root``.

    ``split_tar_gz`` parts and ``tar_gz`` files go through :func:`extract_archive` (one part for a
    plain tar.gz), ZIPs through :func:`extract_zip`; ``into: parent`` extracts beside the archive.
    Every archive is tried, as :func:`extract` does: a damaged one is recorded and the others go on;
    :class:`ArchiveError` (with ``.report``) is raised at the end naming each failed part.
    """
    root = Path(root)
    jobs: list[tuple[str, Callable[[], ArchiveResult]]] = []
    for spec in desc.archives:
        files = sorted(p for p in root.glob(spec.pattern.replace("{folder}", "*")) if p.is_file())
        groups: dict[tuple[Path, str], list[Path]] = {}
        for f in files:
            if spec.kind == "split_tar_gz":
                m = PART_RE.match(f.name)
                if m:
                    groups.setdefault((f.parent, m["name"]), []).append(f)
            elif f.name.endswith((".tar.gz", ".tgz", ".zip")):
                groups[(f.parent, f.name)] = [f]
        for (folder, name), parts in sorted(groups.items()):
            target = folder if spec.into == "parent" else root / spec.into
            # done markers under root/.ditto, out of every member's reach, one folder per target
            rel_target = os.path.relpath(target, root)
            markers = root / STATE / "extracted" / ("." if rel_target.startswith("..") else rel_target)
            shown = name.removesuffix(".zip").removesuffix(".tar.gz").removesuffix(".tgz")  # as the result names it
            jobs.append((shown, lambda spec=spec, name=name, parts=parts, target=target, markers=markers:
                         _extract_described_one(spec.kind, name, parts, target, markers, progress)))
    report = ExtractReport(root)
    _raise_failures(report, *_extract_each(jobs, report))
    return report.archives


def _extract_described_one(kind: str, name: str, parts: list[Path], target: Path, markers: Path,
                           progress: bool) -> ArchiveResult:
    if kind == "zip":
        return extract_zip(parts[0], target, progress=progress, markers=markers)
    if kind == "split_tar_gz":
        nums = tuple(int(PART_RE.match(p.name)["nn"]) for p in parts)
        order = sorted(range(len(parts)), key=lambda i: nums[i])
        archive = SplitArchive(name, tuple(parts[i] for i in order), tuple(nums[i] for i in order))
    else:
        stem = name.removesuffix(".tar.gz").removesuffix(".tgz")
        archive = SplitArchive(stem, (parts[0],), (1,))
    archive.check()
    if not is_extracted(archive, target, markers) and target.is_dir():
        atomic.sweep_tmp(target)
    return extract_archive(archive, target, progress=progress, markers=markers)
