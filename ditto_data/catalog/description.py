"""A dataset description: how one instruction-video-editing dataset lays out its triplets.

Every public dataset packages (source, instruction, edited) differently: per-category CSVs, task
JSONs with their own field names and known path mistakes, ZIPs with twin roots, tar.gz in place.
A :class:`Description` says, declaratively, where the metadata is, which fields hold what, where
the paths are relative to, which path mistakes to fix and which archives hold the videos. It is
loaded from YAML (the shipped ones live beside this module) or built in Python; a value that does
not fit raises :class:`DescriptionError` naming the field.

Field specs: a column name, a list of candidate names (the first one a file has is used, so a
description survives a renamed column it anticipated), or a template ``"{col_a}/{col_b}"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

FORMATS = ("json", "csv", "parquet", "auto")
LAYOUTS = ("table", "ditto")  # ditto: Ditto-1M's tree, read by ditto_data.dataset.tree
CATEGORY_FROM = ("field", "file", "constant")
ARCHIVE_KINDS = ("split_tar_gz", "tar_gz", "zip")
ROLES = ("source", "edited", "instruction", "caption", "category", "id", "reference")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class DescriptionError(ValueError):
    """A description that is malformed, or that does not match the dataset's files."""

    def __init__(self, where: str, field_name: str, message: str):
        self.where, self.field = where, field_name
        super().__init__(f"{where}: field {field_name!r}: {message}")


@dataclass(frozen=True)
class Archive:
    """Archives that hold videos: ``pattern`` (a glob relative to the dataset root; ``{folder}``
    stands for the top folder of the files a config needs, so only those archives are fetched) and
    ``into``: ``parent`` (extracted in place, beside the archive) or a folder relative to the root."""

    kind: str
    pattern: str
    into: str = "parent"


@dataclass(frozen=True)
class PathFix:
    """A known path mistake: a metadata path starting with ``old`` really starts with ``new``."""

    old: str
    new: str


@dataclass(frozen=True)
class Description:
    """How to read one dataset; see the module docstring and the shipped ``*.yaml`` files."""

    name: str
    metadata: tuple[str, ...]  # globs relative to the dataset root
    fields: dict[str, Any]  # role -> column | [candidates] | "{template}"
    title: str = ""
    repo_id: str | None = None
    license: str | None = None
    layout: str = "table"
    format: str = "auto"
    delimiter: str | None = None  # CSV: None = sniffed among , ; tab |
    columns: tuple[str, ...] = ()  # CSV without a header: the names of its columns, in order
    records_key: str | None = None  # JSON: the key holding the list when the file is an object
    category_from: str = "field"
    category: str | None = None  # the category when category_from is "constant"
    category_names: dict[str, str] = field(default_factory=dict)  # raw value or file stem -> category
    roots: dict[str, tuple[str, ...]] = field(default_factory=dict)  # source/edited -> candidate roots
    path_fixes: tuple[PathFix, ...] = ()
    archives: tuple[Archive, ...] = ()
    notes: str = ""
    origin: str = "<python>"  # where it was loaded from, for error messages

    def __post_init__(self) -> None:
        w = self.origin
        if not _NAME.match(self.name or ""):
            raise DescriptionError(w, "name", f"{self.name!r} must be lowercase letters, digits, '-', '_', '.'")
        if self.layout not in LAYOUTS:
            raise DescriptionError(w, "layout", f"{self.layout!r} is not one of {', '.join(LAYOUTS)}")
        if not self.metadata or not all(isinstance(g, str) and g for g in self.metadata):
            raise DescriptionError(w, "metadata", "give at least one glob of metadata files")
        if self.format not in FORMATS:
            raise DescriptionError(w, "format", f"{self.format!r} is not one of {', '.join(FORMATS)}")
        if self.category_from not in CATEGORY_FROM:
            raise DescriptionError(w, "category_from", f"{self.category_from!r} is not one of "
                                   f"{', '.join(CATEGORY_FROM)}")
        if self.category_from == "constant" and not self.category:
            raise DescriptionError(w, "category", "category_from is 'constant' but no category is given")
        unknown = sorted(set(self.fields) - set(ROLES))
        if unknown:
            raise DescriptionError(w, "fields", f"unknown role(s) {', '.join(unknown)}; roles: {', '.join(ROLES)}")
        if self.layout == "table":
            for role in ("source", "edited", "instruction"):
                if not candidates(self.fields.get(role)):
                    raise DescriptionError(w, f"fields.{role}", "required: a column, a list of candidate "
                                           "columns or a {template}")
            if self.category_from == "field" and not candidates(self.fields.get("category")):
                raise DescriptionError(w, "fields.category", "category_from is 'field' but no category column "
                                       "is named (or use category_from: file / constant)")
        for role in self.roots:
            if role not in ("source", "edited"):
                raise DescriptionError(w, "roots", f"unknown role {role!r} (source, edited)")
        for a in self.archives:
            if a.kind not in ARCHIVE_KINDS:
                raise DescriptionError(w, "archives.kind", f"{a.kind!r} is not one of {', '.join(ARCHIVE_KINDS)}")

    def roots_of(self, role: str) -> tuple[str, ...]:
        """Candidate folders (relative to the dataset root) a ``role`` path is relative to."""
        return self.roots.get(role) or ("",)

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "<dict>") -> Description:
        if not isinstance(data, dict):
            raise DescriptionError(origin, "(top level)", "a description is a mapping")
        known = {f.name for f in fields(cls)} - {"origin"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DescriptionError(origin, unknown[0], f"unknown field; known: {', '.join(sorted(known))}")
        d = dict(data)
        for key in ("name", "metadata", "fields"):
            if key not in d:
                raise DescriptionError(origin, key, "required")
        if not isinstance(d["fields"], dict):
            raise DescriptionError(origin, "fields", "must map roles (source, edited, ...) to columns")
        d["metadata"] = _strings(d["metadata"], origin, "metadata")
        d["columns"] = _strings(d.get("columns") or [], origin, "columns")
        roots = d.get("roots") or {}
        if not isinstance(roots, dict):
            raise DescriptionError(origin, "roots", "must map source/edited to a folder or a list of folders")
        d["roots"] = {k: _strings(v, origin, f"roots.{k}") for k, v in roots.items()}
        try:
            d["path_fixes"] = tuple(PathFix(**f) for f in d.get("path_fixes") or [])
        except TypeError as e:
            raise DescriptionError(origin, "path_fixes", f"each entry is {{old: ..., new: ...}} ({e})") from None
        try:
            d["archives"] = tuple(Archive(**a) for a in d.get("archives") or [])
        except TypeError as e:
            raise DescriptionError(origin, "archives", f"each entry is {{kind, pattern, into}} ({e})") from None
        d["category_names"] = dict(d.get("category_names") or {})
        return cls(**d, origin=origin)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Description:
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise DescriptionError(str(path), "(file)", f"cannot read YAML: {e}") from None
        return cls.from_dict(data, origin=str(path))


def _strings(value: Any, origin: str, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise DescriptionError(origin, name, f"must be a string or a list of strings, got {value!r:.80}")


def candidates(spec: Any) -> tuple[str, ...]:
    """The candidate column names (or one template) of a field spec."""
    if spec is None:
        return ()
    if isinstance(spec, str):
        return (spec,) if spec else ()
    return tuple(s for s in spec if isinstance(s, str) and s)


def is_template(spec: str) -> bool:
    return "{" in spec


def template_columns(spec: str) -> list[str]:
    return re.findall(r"\{([^{}]+)\}", spec)


def slug(value: str) -> str:
    """``"Global Style"`` / ``global-style`` -> ``global_style``: a category usable as a folder name."""
    s = re.sub(r"[^a-z0-9]+", "_", str(value).strip().lower()).strip("_")
    return s if s and s[0].isalpha() else f"c_{s}" if s else ""
