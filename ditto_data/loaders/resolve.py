"""Where a dataset's files are on this machine: a local folder as it is, or a Hub repo id fetched
into the Hugging Face datasets cache, only what a config needs, and extracted."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import layout
from ..dataset.tree import DatasetReadError, read_metadata
from ..schema import SOURCE

log = logging.getLogger(__name__)

#: Metadata and captions: always fetched for a repo id before anything else.
META_PATTERNS = [f"{layout.TRAINING_METADATA}/*.json", f"{layout.CAPTIONS}/*.json", layout.CARD]


def local_or_cache(path_or_repo_id: str | Path, cache_dir: str | None = None) -> tuple[Path, str | None]:
    """(the folder, None) for a local dataset folder; (where to download it, repo id) for a Hub repo id
    (``cache_dir`` or :func:`default_cache_dir`: under the Hugging Face datasets cache)."""
    p = Path(path_or_repo_id).expanduser()
    if p.exists():
        if not p.is_dir():
            raise DatasetReadError(f"{p}: not a dataset folder")
        return p, None
    repo_id = str(path_or_repo_id)
    if repo_id.count("/") != 1:
        raise DatasetReadError(f"{repo_id}: no such folder, and not a Hub repo id (owner/name)")
    return Path(cache_dir or default_cache_dir(repo_id)), repo_id


def resolve_root(path_or_repo_id: str | Path, config: str, revision: str | None = None,
                 cache_dir: str | None = None) -> Path:
    """A local dataset folder as is; a Hub repo id is downloaded into a local folder and extracted.

    Metadata comes first; then only the video folders ``config`` needs, loose or as Ditto-1M's
    split archives (``videos/<folder>.tar.gz.NN``), which are extracted in place. The folder is
    ``cache_dir`` or ``<HF datasets cache>/ditto-data/<owner>--<name>`` (``HF_DATASETS_CACHE``, by default
    ``$HF_HOME/datasets``), so it lives, is moved and is cleaned with the rest of the Hugging Face
    cache; a second call resumes and reuses it.
    """
    root, repo_id = local_or_cache(path_or_repo_id, cache_dir)
    if repo_id is None:
        return root
    from ..hub import download, extract

    download(repo_id, root, include=META_PATTERNS, revision=revision, progress=False)
    folders = {SOURCE} if config == SOURCE else _video_folders(root, config)
    patterns = [p for f in sorted(folders) for p in (f"{layout.VIDEOS}/{f}/**", f"{layout.VIDEOS}/{f}.tar.gz.*")]
    download(repo_id, root, include=META_PATTERNS + patterns, revision=revision, progress=False)
    extract(root, progress=False)
    log.info("%s: using %s", repo_id, root)
    return root


def default_cache_dir(repo_id: str) -> Path:
    """Where :func:`resolve_root` keeps a Hub dataset: inside the ``datasets`` cache, as the library resolves it."""
    import datasets.config

    return Path(datasets.config.HF_DATASETS_CACHE) / "ditto-data" / repo_id.replace("/", "--")


def _video_folders(root: Path, config: str) -> set[str]:
    folders = {SOURCE}
    for e in read_metadata(root, config):
        for rel in (e.get("edited_path") or "", e.get("source_path") or ""):  # sim2real: an edit is the source
            if "/" in rel:
                folders.add(rel.split("/", 1)[0])
    return folders
