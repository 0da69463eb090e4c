"""Selective downloads of a Ditto-style dataset repo with ``huggingface_hub.snapshot_download``.

snapshot_download resumes interrupted files, skips files already complete in ``out_dir`` and
finds the token (``HF_TOKEN``, ``hf auth login``) and endpoint (``HF_ENDPOINT``) the usual way;
nothing here reads, logs or prints the token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .presets import patterns_for

log = logging.getLogger(__name__)

REPO_TYPE = "dataset"
DEFAULT_REVISION = "main"  # explicit: some Hub-compatible servers refuse repo info without one


@dataclass(frozen=True)
class PlannedFile:
    path: str
    size: int | None
    present: bool  # already complete in the output folder


@dataclass
class DownloadPlan:
    repo_id: str
    revision: str
    commit: str | None
    allow_patterns: list[str] | None
    ignore_patterns: list[str] | None
    files: list[PlannedFile]

    @property
    def total_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)

    @property
    def to_fetch_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files if not f.present)


def _snapshot_kwargs(repo_id, out_dir, presets, include, exclude, revision, token, endpoint) -> dict:
    return dict(repo_id=repo_id, repo_type=REPO_TYPE, revision=revision or DEFAULT_REVISION,
                local_dir=str(out_dir), allow_patterns=patterns_for(presets, include),
                ignore_patterns=list(exclude) or None, token=token, endpoint=endpoint)


def plan_download(repo_id: str, out_dir: str | Path, *, presets: list[str] | tuple[str, ...] = (),
                  include: list[str] | tuple[str, ...] = (), exclude: list[str] | tuple[str, ...] = (),
                  revision: str | None = None, token: str | bool | None = None,
                  endpoint: str | None = None) -> DownloadPlan:
    """What :func:`download` would fetch (the same matching, done by snapshot_download's dry run)."""
    from huggingface_hub import snapshot_download

    kw = _snapshot_kwargs(repo_id, out_dir, presets, include, exclude, revision, token, endpoint)
    infos = snapshot_download(**kw, dry_run=True)
    files = [PlannedFile(i.filename, i.file_size, not i.will_download) for i in sorted(infos, key=lambda i: i.filename)]
    return DownloadPlan(repo_id, kw["revision"], infos[0].commit_hash if infos else None, kw["allow_patterns"],
                        kw["ignore_patterns"], files)


def download(repo_id: str, out_dir: str | Path, *, presets: list[str] | tuple[str, ...] = (),
             include: list[str] | tuple[str, ...] = (), exclude: list[str] | tuple[str, ...] = (),
             revision: str | None = None, token: str | bool | None = None, endpoint: str | None = None,
             max_workers: int = 8, progress: bool = True) -> Path:
    """Download the files of ``repo_id`` matched by ``presets``/``include`` minus ``exclude`` into ``out_dir``.

    Re-running resumes and fetches only what is missing. Extract the split archives afterwards
    with :func:`ditto_data.hub.extract.extract`.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    out_dir = Path(out_dir)
    kw = _snapshot_kwargs(repo_id, out_dir, presets, include, exclude, revision, token, endpoint)
    log.info("downloading %s@%s into %s (patterns: %s)", repo_id, kw["revision"], out_dir,
             kw["allow_patterns"] or "all files")
    if not progress:
        disable_progress_bars()
    try:
        path = Path(snapshot_download(**kw, max_workers=max_workers))
    finally:
        if not progress:
            enable_progress_bars()
    return path
