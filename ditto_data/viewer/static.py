"""``ditto-data view PATH --static DIR``: the viewer as files that open from disk or any web host.

``DIR/index.html`` is the same page the server gives; its data are paginated JSON chunks wrapped
in one JS call each (``data/<view>/<order>/<n>.js``: browsers refuse ``fetch`` on ``file://`` but
run scripts), one order by id and one per score and direction, made by the same query the server
runs, so a page reads only the chunks it shows. Filtering scans chunks in order. The videos and
images the rows show are hard-linked (copied across file systems) under ``DIR/media/`` with their
paths in the dataset, so the folder stands alone.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import atomic
from ..layout import STATE
from .index import DatasetIndex, Query, View
from .page import ASSETS, asset_bytes, page_html

log = logging.getLogger(__name__)

CHUNK = 200  # rows per data file
MARKER = "data/info.js"


@dataclass
class StaticSite:
    dir: Path
    rows: dict[str, int]  # view -> rows
    files: int  # data files written
    media: int  # videos and images linked


def static_name(rel: str) -> str:
    """Where a file of the dataset goes under ``media/``: its path, with ``.ditto/`` (work files of
    rejected records) as ``_ditto/``, since web hosts often hide dot folders."""
    return "_ditto/" + rel[len(STATE) + 1:] if rel.startswith(STATE + "/") else rel


def _js(key: str, payload) -> str:
    return f"DittoData({json.dumps(key)},{json.dumps(payload, ensure_ascii=False, separators=(',', ':'))});\n"


def _orders(view: View) -> list[tuple[str, Query]]:
    out = [("id", Query())]
    for s in view.scores:
        out += [(s, Query(sort=s)), (f"{s}-desc", Query(sort=s, desc=True))]
    return out


def write_static(root: str | Path, dest: str | Path, chunk: int = CHUNK, progress: bool = True) -> StaticSite:
    """Write the viewer of the dataset at ``root`` into ``dest`` (a new folder, or one written before)."""
    from tqdm import tqdm

    index = DatasetIndex(root)
    dest = Path(dest).resolve()
    if dest.exists() and any(dest.iterdir()) and not (dest / MARKER).is_file():
        raise ValueError(f"{dest} exists and is not a viewer folder written before: give an empty or new folder")
    if dest.is_relative_to(index.root) and not dest.is_relative_to(index.root / ".ditto"):
        raise ValueError(f"{dest} is inside the dataset {index.root}: write the viewer elsewhere "
                         "(it would be published with the dataset)")
    shutil.rmtree(dest / "data", ignore_errors=True)  # chunks of an earlier run; media links are kept
    atomic.write_text(dest / "index.html", page_html(static=True))
    for name in ASSETS:
        atomic.write_bytes(dest / "assets" / name, asset_bytes(name))

    info = index.info()
    views, media, files = {}, set(), 0
    for name in index.view_names:
        view = index.view(name)
        meta = {"summary": view.summary(), "orders": {}, "first_ids": []}
        for key, q in _orders(view):
            t = view.select(q)
            n = -(-t.num_rows // chunk)
            meta["orders"][key] = n
            for k in tqdm(range(n), desc=f"{name}/{key}", unit="chunk", disable=not progress, leave=False):
                rows = [index.detail(view, r) for r in view.rows_of(t, k * chunk, chunk)]
                for r in rows:
                    media.update(p for p in r["media"].values() if p)
                    r["media"] = {s: static_name(p) if p else p for s, p in r["media"].items()}
                if key == "id":
                    meta["first_ids"].append(rows[0]["id"])
                atomic.write_text(dest / "data" / name / key / f"{k}.js", _js(f"{name}/{key}/{k}", rows))
                files += 1
        views[name] = meta
    for rel in tqdm(sorted(media), desc="media", unit="file", disable=not progress, leave=False):
        atomic.link_or_copy(index.root / rel, dest / "media" / static_name(rel))
    info["static"] = {"chunk": chunk, "views": views}
    atomic.write_text(dest / MARKER, "window.DITTO_STATIC = " + json.dumps(info, ensure_ascii=False) + ";\n")
    log.info("static viewer of %s written to %s: %d data files, %d media files", index.root, dest, files, len(media))
    return StaticSite(dest, {k: v["summary"]["rows"] for k, v in views.items()}, files, len(media))
