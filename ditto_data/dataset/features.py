"""The dataset's columns, in one place: every form a row takes is derived from these.

A row is a dict keyed by column name. Its video columns hold a path; everything else is a value of
the column's kind. The HF videofolder metadata (:mod:`ditto_data.exports.hf`), the WebDataset JSON
(:mod:`.shards`), the ``datasets`` features of ``ditto_data.load`` and the card's column lists
all come from here, so a column added here reaches every one of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

VIDEO = "video"


class Columns(Mapping[str, str]):
    """Column name -> kind (``string``, ``int32``, ``float32``, ... or ``video``), in order."""

    def __init__(self, kinds: Mapping[str, str]):
        self._kinds = dict(kinds)

    def __getitem__(self, name: str) -> str:
        return self._kinds[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def __repr__(self) -> str:
        return f"Columns({self._kinds!r})"

    def with_columns(self, **kinds: str) -> Columns:
        return Columns({**self._kinds, **kinds})

    @property
    def json_fields(self) -> tuple[str, ...]:
        """The text columns: what a WebDataset sample's ``.json`` carries (videos are members)."""
        return tuple(n for n, k in self.items() if k == "string")

    def hf_features(self, decode: bool = True):  # -> datasets.Features
        """The ``datasets.Features`` (imported lazily: datasets is heavy)."""
        import datasets

        return datasets.Features({n: datasets.Video(decode=decode) if k == VIDEO else datasets.Value(k)
                                  for n, k in self.items()})

    def arrow_schema(self):  # -> pyarrow.Schema
        """The schema of the videofolder metadata file: a video column is its path, a string."""
        import pyarrow as pa

        return pa.schema([(metadata_column(n, k), pa.string() if k == VIDEO else pa.type_for_alias(k))
                          for n, k in self.items()])

    def metadata_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row as the videofolder metadata writes it (video columns renamed, see :func:`metadata_column`)."""
        return {metadata_column(n, k): row[n] for n, k in self.items()}


def metadata_column(name: str, kind: str) -> str:
    """The videofolder metadata column that ``datasets`` turns into column ``name``: it makes a
    ``Video`` column ``<col>`` of every ``<col>_file_name`` and ``video`` of ``file_name``."""
    if kind != VIDEO:
        return name
    return "file_name" if name == VIDEO else f"{name}_file_name"


#: A triplet row (configs ``local``, ``global_style``, ``global_freeform``, ``sim2real``).
EDIT_COLUMNS = Columns({
    "id": "string",
    "source_id": "string",
    "category": "string",
    "instruction": "string",
    "caption": "string",
    "source_video": VIDEO,
    "edited_video": VIDEO,
    "source_path": "string",  # relative to videos/, as in training_metadata
    "edited_path": "string",
})  # fmt: skip

#: A triplet row as ``ditto_data.load`` gives it, for any dataset: the edit columns, the dataset of
#: origin (a catalog name, see ``ditto_data.catalog``) and the original metadata entry as JSON.
ROW_COLUMNS = EDIT_COLUMNS.with_columns(dataset="string", original="string")

#: A source row (config ``source``).
SOURCE_COLUMNS = Columns({
    "id": "string",
    "caption": "string",
    "video": VIDEO,
    "path": "string",  # relative to videos/ (source/<shard>/<id>.mp4), like a triplet's source_path
    "num_frames": "int32",
    "fps": "float32",
    "width": "int32",
    "height": "int32",
})  # fmt: skip
