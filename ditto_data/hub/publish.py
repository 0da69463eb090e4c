"""Publish a dataset folder to a Hub dataset repo, resumably.

The files go up through ``huggingface_hub``'s own upload path (``create_repo`` then
``create_commit``: preupload, LFS or Xet upload, commit) in batches of a bounded size, README.md
last so the card only describes files that are there. Each batch is a commit, so an interrupted
publish keeps what was committed; re-running asks the server which files it already has
(``HfApi.get_paths_info``: each file's size, git blob id and LFS sha256) and commits only the
missing or changed ones, and large objects uploaded before the interruption are not sent again
(the LFS batch answer says they are present). Only public ``huggingface_hub`` APIs are used.

Never uploaded: the builder's state (``.ditto/``), caches, temporary files, extraction markers,
and loose videos of a folder that has split archives (``ditto-data pack``), unless asked.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import atomic
from ..layout import CARD, STATE, VIDEOS
from .errors import HubError
from .extract import MARKERS
from .parts import PART_RE

log = logging.getLogger(__name__)

REPO_TYPE = "dataset"
ALWAYS_IGNORED = (f"{STATE}/*", ".cache/*", ".git/*", f"{VIDEOS}/{MARKERS}/*", f"*{atomic.TMP_MARK}*")
DEFAULT_BATCH_FILES = 500
DEFAULT_BATCH_BYTES = 10 * 10**9


class PublishError(HubError):
    """The folder cannot be published as it is; the message names the file and what is wrong."""


@dataclass(frozen=True)
class UploadFile:
    path: str  # path in the repo (posix, relative to the folder)
    size: int


@dataclass
class PublishPlan:
    folder: Path
    files: list[UploadFile]
    left_out: list[str] = field(default_factory=list)  # loose videos covered by split archives

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass
class PublishResult:
    repo_url: str
    commits: int  # commits created by this run
    sent: list[str]  # files this run committed (new or changed)
    unchanged: int  # files the repo already had


def plan_publish(folder: str | Path, *, include_loose_videos: bool = False,
                 ignore: list[str] | tuple[str, ...] = ()) -> PublishPlan:
    """The files :func:`publish` would upload, README.md last."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    patterns = list(ALWAYS_IGNORED) + list(ignore)
    archived = _archived_folders(folder / VIDEOS)
    files, left_out = [], []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            rel = p.relative_to(folder).as_posix()
            if any(fnmatch.fnmatchcase(rel, pat) for pat in patterns) or p.is_symlink():
                continue
            parts = rel.split("/")
            if (not include_loose_videos and len(parts) > 2 and parts[0] == VIDEOS and parts[1] in archived
                    and not PART_RE.match(parts[-1])):
                left_out.append(rel)
                continue
            files.append(UploadFile(rel, p.stat().st_size))
    files.sort(key=lambda f: (f.path == CARD, f.path))
    if left_out:
        log.info("leaving out %d loose videos: their folders are published as split archives", len(left_out))
    return PublishPlan(folder, files, left_out)


def _archived_folders(vdir: Path) -> set[str]:
    """Video folders that have split archives (``videos/<f>.tar.gz.NN`` or ``videos/<f>/<f>.tar.gz.NN``)."""
    if not vdir.is_dir():
        return set()
    names = set()
    for p in list(vdir.glob("*.tar.gz.*")) + list(vdir.glob("*/*.tar.gz.*")):
        m = PART_RE.match(p.name)
        if m:
            names.add(m["name"])
    return names


def validate_card(folder: str | Path, plan: PublishPlan | None = None) -> None:
    """Validate README.md (``ditto_data.cards.validate_card``, offline) before anything is uploaded.

    The card's configs and license link are checked against the files the repo will hold (``plan``'s,
    by default every file :func:`plan_publish` picks), not the local folder: loose videos of packed
    folders are not uploaded, so a config reading them would fail on the Hub. The Hub validates the
    YAML again when the card is committed; failing here avoids a publish that uploads terabytes and
    then stops at the last commit.
    """
    from ..cards import CardError
    from ..cards import validate_card as check

    card = Path(folder) / CARD
    if not card.is_file():
        log.warning("%s: no dataset card; the repo will have none (write one with `ditto-data card`)", card)
        return
    plan = plan or plan_publish(folder)
    try:
        check(card, files=[f.path for f in plan.files])
    except CardError as e:
        hint = ("; run `ditto-data pack` to write the WebDataset shards the configs read"
                if plan.left_out and "matches no file" in str(e) else "")
        raise PublishError(f"invalid dataset card {e}{hint}") from None


def _batches(files: list[UploadFile], max_files: int, max_bytes: int) -> list[list[UploadFile]]:
    out: list[list[UploadFile]] = [[]]
    size = 0
    for f in files:
        if out[-1] and (len(out[-1]) >= max_files or size + f.size > max_bytes):
            out.append([])
            size = 0
        out[-1].append(f)
        size += f.size
    return [b for b in out if b]


def publish(folder: str | Path, repo_id: str, *, revision: str | None = None, private: bool | None = None,
            token: str | bool | None = None, endpoint: str | None = None, include_loose_videos: bool = False,
            ignore: list[str] | tuple[str, ...] = (), commit_message: str = "Upload dataset with ditto-data",
            batch_files: int = DEFAULT_BATCH_FILES, batch_bytes: int = DEFAULT_BATCH_BYTES) -> PublishResult:
    """Create dataset repo ``repo_id`` if needed and upload ``folder`` to it (see the module doc)."""
    from huggingface_hub import CommitOperationAdd, HfApi, RepoFile

    plan = plan_publish(folder, include_loose_videos=include_loose_videos, ignore=ignore)
    validate_card(plan.folder, plan)
    if not plan.files:
        raise PublishError(f"{plan.folder}: nothing to publish")
    api = HfApi(endpoint=endpoint, token=token)
    url = api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
    batches = _batches(plan.files, batch_files, batch_bytes)
    log.info("publishing %d files (%d bytes) to %s in %d batch(es)", len(plan.files), plan.total_bytes, url,
             len(batches))
    sent: list[str] = []
    commits = 0
    for i, batch in enumerate(batches, 1):
        remote = {p.path: p for p in api.get_paths_info(repo_id, [f.path for f in batch], repo_type=REPO_TYPE,
                                                        revision=revision) if isinstance(p, RepoFile)}
        changed = [f for f in batch if not _same_file(plan.folder / f.path, remote.get(f.path))]
        if changed:
            ops = [CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=str(plan.folder / f.path)) for f in changed]
            msg = commit_message if len(batches) == 1 else f"{commit_message} ({i}/{len(batches)})"
            api.create_commit(repo_id, ops, commit_message=msg, repo_type=REPO_TYPE, revision=revision)
            sent += [f.path for f in changed]
            commits += 1
        log.info("batch %d/%d: %d files sent, %d already there", i, len(batches), len(changed),
                 len(batch) - len(changed))
    return PublishResult(str(url), commits, sent, len(plan.files) - len(sent))


def _same_file(local: Path, remote) -> bool:
    """Whether the repo's file (a ``RepoFile`` from ``HfApi.get_paths_info``, or None) has ``local``'s bytes:
    compared by size, then by the LFS sha256 or the git blob id the Hub reports."""
    if remote is None or remote.size != local.stat().st_size:
        return False
    if remote.lfs is not None:
        return _digest(local, hashlib.sha256()) == remote.lfs.sha256
    return _digest(local, hashlib.sha1(b"blob %d\0" % local.stat().st_size)) == remote.blob_id


def _digest(path: Path, h) -> str:
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
