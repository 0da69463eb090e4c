"""Named subsets of Ditto-1M (QingyanBai/Ditto-1M) as ``allow_patterns``: one small table to correct.

The Hub repo's layout, as its card describes it::

    README.md
    mini_test_videos/                 a few dozen cases for a first look
    source_video_captions/*.json      captions of the source videos
    training_metadata/*.json          global_style.json, global.json, global_freeform3.json,
                                      local.json, local_replace.json, sim2real.json, ...
    csvs_for_DiffSynth/*.csv
    videos/<folder>.tar.gz.NN         split archives, folders: source, local, global_style1,
                                      global_style2, global_freeform1..3

Patterns are fnmatch patterns on repo paths, as ``huggingface_hub.snapshot_download`` takes them
(``*`` also matches ``/``). Video patterns match the archives both at ``videos/<folder>.tar.gz.NN``
and inside ``videos/<folder>/``, so a move of the archives into their folders needs no change here.
Editing presets include the source videos: an edited video is useless without its source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    description: str
    patterns: tuple[str, ...]


def _videos(*folders: str) -> tuple[str, ...]:
    """Archive parts (and already-extracted files) of the given ``videos/`` folders (fnmatch globs)."""
    return tuple(p for f in folders for p in (f"videos/{f}.tar.gz.*", f"videos/{f}/*"))


METADATA = ("README.md", "source_video_captions/*", "training_metadata/*", "csvs_for_DiffSynth/*")

PRESETS: dict[str, Preset] = {
    "metadata": Preset("dataset card, source captions, training metadata and DiffSynth CSVs (small)", METADATA),
    "mini": Preset("the mini test videos", ("mini_test_videos/*",)),
    "local": Preset("local editing: source and local videos", _videos("source", "local")),
    "global": Preset("global editing: source, global style and global freeform videos",
                     _videos("source", "global_style[0-9]*", "global_freeform[0-9]*", "global_style", "global_freeform")),
    "style": Preset("global style editing only: source and global style videos",
                    _videos("source", "global_style[0-9]*", "global_style")),
    "all": Preset("everything (about 2 TB)", ("*",)),
}


def patterns_for(presets: list[str] | tuple[str, ...] = (), include: list[str] | tuple[str, ...] = ()) -> list[str] | None:
    """The union of the presets' patterns and ``include``; None (everything) when both are empty."""
    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        raise ValueError(f"unknown preset {', '.join(unknown)}; choose from {', '.join(PRESETS)}")
    out: list[str] = []
    for name in presets:
        out += [p for p in PRESETS[name].patterns if p not in out]
    out += [p for p in include if p not in out]
    return out or None
