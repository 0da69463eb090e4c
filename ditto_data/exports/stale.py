"""Remove what a previous export wrote that is no longer part of the dataset.

An edit rejected after a config change, a shard that moved, a category with no rows left: their
files must not linger where users (and ``load_dataset``'s globs) would find them. Only the folders
the export owns are swept; ``.ditto/`` and anything else in the dataset root are left alone.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .. import layout
from ..schema import CATEGORIES, SOURCE, ordered_categories

log = logging.getLogger(__name__)


def owned_folders(root: Path) -> list[Path]:
    """Ditto's folders plus those of any category a previous export wrote metadata for (a converted
    dataset's edit types), so a category that lost all its rows does not linger."""
    v = root / layout.VIDEOS
    md = root / layout.TRAINING_METADATA
    earlier = sorted(p.stem for p in md.glob("*.json")) if md.is_dir() else []
    return [v / SOURCE, *(v / c for c in ordered_categories([*CATEGORIES, *earlier])),
            root / layout.TRAINING_METADATA, root / layout.CAPTIONS, root / layout.DIFFSYNTH]  # fmt: skip


def owned_files(root: Path) -> list[Path]:
    return [layout.hf_metadata_path(root, CATEGORIES[0]), layout.teaser_path(root)]


def remove_stale(root: str | Path, keep: set[str]) -> list[str]:
    """Delete files in the export's folders whose path (relative to ``root``) is not in ``keep``."""
    root = Path(root)
    removed = []
    candidates = [p for p in owned_files(root) if p.is_file() or p.is_symlink()]
    for folder in owned_folders(root):
        if folder.is_dir():
            candidates.extend(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    for p in sorted(candidates):
        rel = p.relative_to(root).as_posix()
        if rel not in keep:
            p.unlink()
            removed.append(rel)
    for folder in owned_folders(root) + [layout.teaser_path(root).parent]:
        if folder.is_dir():  # deepest first, so emptied shard folders go before their parent
            for d in sorted((d for d in folder.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)) + [folder]:
                if not any(d.iterdir()):
                    os.rmdir(d)
    if removed:
        log.info("removed %d files of a previous export that are no longer in the dataset", len(removed))
    return removed
