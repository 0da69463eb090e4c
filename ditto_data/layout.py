"""Where every file of a dataset lives, in both directions (record -> path, path -> ids).

The tree is Ditto-1M's (see DESIGN.md): videos under ``videos/<folder>/<shard>/``, metadata paths
relative to ``videos/``. Ditto-1M's archives extract to ``videos/<category>/...`` when extracted
into ``videos/``, and to the doubled ``videos/<category>/<category>/...`` when extracted inside
the category folder, which users already have on disk: :func:`resolve_video` accepts both.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .schema import CATEGORIES, SOURCE

VIDEOS = "videos"
TRAINING_METADATA = "training_metadata"
CAPTIONS = "source_video_captions"
DIFFSYNTH = "csvs_for_DiffSynth"
HF_METADATA = "metadata.parquet"  # videofolder metadata: beside the videos it names (see hf_metadata_path)
TEASER = "assets/teaser.png"  # the dataset card's image
FUNNEL_CHART = "assets/funnel.png"  # the card's charts of the build (cards/charts.py)
SCORES_CHART = "assets/scores.png"
STATE = ".ditto"  # ledger, work files, build summary: the builder's private state
CARD = "README.md"

SHARD_SIZE = 1000  # videos per shard folder
CAPTIONS_PER_FILE = 10000

_EDITED = re.compile(r"^(?P<folder>[^/]+)/(?P<shard>\d{4})/(?P<hash>[0-9A-Za-z]+)_(?P<n>\d+)\.mp4$")
_SOURCE = re.compile(r"^(?:source/)?(?P<shard>\d{4})/(?P<hash>[0-9A-Za-z]+)\.mp4$")


def shard_name(index: int, shard_size: int = SHARD_SIZE) -> str:
    """Four-digit shard folder for the ``index``-th video of a folder in sorted order."""
    return f"{index // shard_size:04d}"


# -- record -> path (relative to ``videos/``, as training_metadata and the CSVs write them) -----


def source_relpath(shard: str, clip_id: str) -> str:
    return f"{SOURCE}/{shard}/{clip_id}.mp4"


def edited_relpath(category: str, shard: str, edit_id: str) -> str:
    return f"{category}/{shard}/{edit_id}.mp4"


def video_path(root: str | Path, relpath: str) -> Path:
    return Path(root) / VIDEOS / relpath


def training_metadata_path(root: str | Path, category: str) -> Path:
    return Path(root) / TRAINING_METADATA / f"{category}.json"


def captions_path(root: str | Path, index: int) -> Path:
    return Path(root) / CAPTIONS / f"source_video_captions_{index:04d}.json"


def diffsynth_csv_path(root: str | Path, category: str) -> Path:
    return Path(root) / DIFFSYNTH / f"{category}.csv"


def hf_metadata_path(root: str | Path, config: str) -> Path:
    """The ``datasets`` videofolder metadata of a config.

    ``datasets`` only resolves a ``*file_name`` inside the metadata file's own folder, so the source
    rows live in ``videos/source/`` and the triplet rows (all categories, one ``category`` column
    that each config filters on) in ``videos/``, the one folder above both videos of a triplet.
    """
    base = Path(root) / VIDEOS
    return base / SOURCE / HF_METADATA if config == SOURCE else base / HF_METADATA


def teaser_path(root: str | Path) -> Path:
    return Path(root) / TEASER


def state_dir(root: str | Path) -> Path:
    return Path(root) / STATE


def ledger_dir(root: str | Path) -> Path:
    return state_dir(root) / "ledger"


def work_dir(root: str | Path, stage: str, fingerprint: str) -> Path:
    """Where a stage writes its artifacts; keyed by fingerprint so configs never overwrite each other."""
    return state_dir(root) / "work" / stage / fingerprint


# -- path -> ids ------------------------------------------------------------------------------


def parse_edited(relpath: str) -> tuple[str, str, str, int]:
    """``local/0003/abc_2.mp4`` -> (folder, shard, hash, n). Raises ValueError on other shapes."""
    m = _EDITED.match(relpath.replace("\\", "/"))
    if not m:
        raise ValueError(f"not a Ditto edited-video path (<category>/<shard>/<hash>_<n>.mp4): {relpath!r}")
    return m["folder"], m["shard"], m["hash"], int(m["n"])


def source_of_edited(relpath: str) -> str:
    """The Ditto rule: an edited video's source is found by dropping ``_<n>``: ``source/<shard>/<hash>.mp4``."""
    _, shard, h, _ = parse_edited(relpath)
    return source_relpath(shard, h)


def source_hash(relpath: str) -> str:
    """The hash of a source path, with or without the leading ``source/``."""
    m = _SOURCE.match(relpath.replace("\\", "/"))
    if not m:
        raise ValueError(f"not a Ditto source-video path ([source/]<shard>/<hash>.mp4): {relpath!r}")
    return m["hash"]


def category_of_folder(folder: str) -> str:
    """Ditto-1M's upload batches (``global_style1``, ``global_freeform3``) belong to a category."""
    base = folder.rstrip("0123456789")
    return base if base in CATEGORIES else folder


class OutsideDataset(ValueError):
    """A path from a dataset's metadata that would lead outside the dataset: absolute, with ``..``,
    or through a link that points out. Metadata is data from elsewhere; it must not make a loader
    read (or a trainer ship) any file of the machine."""


def checked_relpath(relpath: str) -> str:
    """``relpath`` with ``/`` separators, or :class:`OutsideDataset` if it is absolute or climbs out."""
    if not isinstance(relpath, str) or not relpath:
        raise OutsideDataset(f"not a relative path: {relpath!r}")
    rel = relpath.replace("\\", "/")
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":") or "\0" in rel:
        raise OutsideDataset(f"absolute path {relpath!r}")
    if ".." in rel.split("/"):
        raise OutsideDataset(f"path {relpath!r} climbs out with '..'")
    return rel


def real_inside(path: str | Path, real_base: str) -> str | None:
    """The real path of ``path`` (links followed) if it stays inside ``real_base`` (itself a real
    path, computed once by callers that check many files), else None."""
    real = os.path.realpath(path)
    return real if real == real_base or real.startswith(real_base.rstrip(os.sep) + os.sep) else None


def contained_path(base: str | Path, relpath: str) -> Path:
    """``base/relpath``, refused (:class:`OutsideDataset`) when the path, or a link on its way,
    leads outside ``base``. The check every reader of metadata paths goes through (the described
    datasets' ``resolve_media`` uses :func:`real_inside` the same way)."""
    base = Path(base)
    cand = base / checked_relpath(relpath)
    if real_inside(cand, os.path.realpath(base)) is None:
        raise OutsideDataset(f"path {relpath!r} leads outside {base} (to {os.path.realpath(cand)}) through a link")
    return cand


def resolve_video(root: str | Path, relpath: str) -> Path | None:
    """Find a video given its metadata path, in either extracted layout; None if absent.

    Tries ``videos/<rel>`` then the doubled ``videos/<folder>/<rel>`` that extracting an archive
    inside its own category folder gives. Raises :class:`OutsideDataset` for a path that would
    lead outside ``videos/`` (absolute, ``..``, a link out).
    """
    rel = checked_relpath(relpath)
    base = Path(root) / VIDEOS
    first = rel.split("/", 1)[0]
    for cand_rel in (rel, f"{first}/{rel}"):
        if (base / cand_rel).is_file():
            return contained_path(base, cand_rel)
    return None
