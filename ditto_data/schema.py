"""The record that flows through the pipeline: its kinds, categories, statuses and ids.

A record is a plain dataclass that serialises to JSON for the ledger. Its id is deterministic:
an input file's id is the hash of its bytes, a standardized clip's id the hash of (input id, start
frame), and an edit's id is ``<clip id>_<n>``, so the same inputs always give the same names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

#: Edit categories of Ditto-1M (folders under ``videos/``); ``source`` holds the source clips.
CATEGORIES: tuple[str, ...] = ("local", "global_style", "global_freeform")
SOURCE = "source"
#: Ditto-1M's reversed config: a global_style video as the source, its real clip as the target.
SIM2REAL = "sim2real"
SIM2REAL_INSTRUCTION = "Turn it into the real domain."
SIM2REAL_FROM = "global_style"  # the category whose triplets sim2real reverses

#: Record kinds, in lineage order: a raw input file, a standardized source clip, an edit of a clip.
INPUT, CLIP, EDIT = "input", "clip", "edit"
KINDS: tuple[str, ...] = (INPUT, CLIP, EDIT)

OK, REJECTED = "ok", "rejected"

ID_CHARS = 16  # hex digits of a content hash: 64 bits, collision-free at Ditto-1M's scale


def content_id(*parts: str | bytes) -> str:
    """A short deterministic hex id from the given parts."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode("utf-8", "surrogateescape"))  # any file name
        h.update(b"\0")
    return h.hexdigest()[:ID_CHARS]


def file_id(path: str, chunk: int = 1 << 20) -> str:
    """Content hash of a file's bytes (the id of an input record)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:ID_CHARS]


def edit_id(clip_id: str, n: int) -> str:
    return f"{clip_id}_{n}"


@dataclass
class Provenance:
    """Who made an artifact: enough to reproduce it or to know it must be redone."""

    stage: str
    backend: str
    config_hash: str
    model: str | None = None
    revision: str | None = None
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Record:
    """One unit of work: an input file, a source clip or an edit triplet.

    ``fields`` holds what stages measured or wrote (probe facts, scores, caption, instruction);
    ``artifacts`` maps an artifact name (``video``, ``edited_video``, ``keyframe`` ...) to a path
    relative to the build's output folder; ``provenance`` has one entry per artifact or field group.
    """

    id: str
    kind: str
    parent_id: str | None = None
    source_id: str | None = None  # the clip an edit belongs to (lineage root inside the dataset)
    category: str | None = None
    status: str = OK
    reason: str | None = None  # machine-readable rejection reason, e.g. "too_short"
    message: str | None = None  # human explanation of the rejection
    rejected_by: str | None = None  # stage name
    fields: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == OK

    def reject(self, stage: str, reason: str, message: str, **fields: Any) -> Record:
        """Mark rejected; extra keyword fields (scores, the id it duplicates) are kept."""
        self.status, self.reason, self.message, self.rejected_by = REJECTED, reason, message, stage
        self.fields.update(fields)
        return self

    def add_artifact(self, name: str, path: str, provenance: Provenance) -> None:
        self.artifacts[name] = path
        self.provenance[name] = asdict(provenance)

    def child(self, id: str, kind: str, **kw: Any) -> Record:
        """A new record derived from this one (a clip of an input, an edit of a clip)."""
        return Record(id=id, kind=kind, parent_id=self.id, fields=dict(self.fields), **kw)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        return cls(**d)


_CATEGORY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def is_category_name(name: str) -> bool:
    """A category is a folder name: lowercase letters, digits and ``_``, never ``source``."""
    return bool(_CATEGORY_NAME.match(name or "")) and name != SOURCE


def ordered_categories(names) -> list[str]:
    """Ditto's categories first in their order, then any other (another dataset's edit types) sorted."""
    names = set(names)
    return [c for c in CATEGORIES if c in names] + sorted(names - set(CATEGORIES) - {SOURCE})
