"""``ditto-data view PATH``: the viewer page and its JSON API, served by Starlette on uvicorn.

Routes: ``/`` (the page), ``/assets/*`` (its JS and CSS, shipped in the package: nothing is fetched
from the network), ``/api/info``, ``/api/rows`` (one filtered, sorted page of a view),
``/api/sample`` (one row with provenance) and ``/media/<path>``: a video or image under the dataset
root, with HTTP range requests (Starlette's ``FileResponse``) so the browser can seek. A media path
from the browser is normalised and refused unless it names a media file inside the root once
symlinks are followed. Loopback only unless told otherwise.
"""

from __future__ import annotations

import ipaddress
import logging
import posixpath
import threading
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .index import DatasetIndex, Query
from .page import page_html

log = logging.getLogger(__name__)

MAX_PAGE = 500  # rows one request may ask for

MEDIA_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska", ".mov": "video/quicktime",
               ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}  # fmt: skip


def parse_query(params: Any) -> Query:
    """A :class:`Query` from URL parameters: ``q``, ``f.<facet>``, ``min.<score>``, ``max.<score>``,
    ``sort``, ``desc``, ``offset``, ``limit`` (ValueError on a malformed number)."""
    q = Query(text=params.get("q", ""), sort=params.get("sort") or None, desc=params.get("desc") in ("1", "true"))
    for k, v in params.items():
        if k.startswith("f."):
            q.facets[k[2:]] = v
        elif k.startswith(("min.", "max.")) and v != "":
            bound, score = k.split(".", 1)
            lo, hi = q.ranges.get(score, (None, None))
            x = float(v)
            q.ranges[score] = (x, hi) if bound == "min" else (lo, x)
    q.offset = int(params.get("offset", 0))
    q.limit = min(MAX_PAGE, int(params.get("limit", 50)))
    return q


def safe_media_path(root: Path, path: str) -> Path | None:
    """The file ``path`` names under ``root``, or None if it would leave the root or is not media."""
    if "\\" in path or "\0" in path or path.startswith("/"):
        return None
    norm = posixpath.normpath(path)
    if norm.startswith("..") or norm == "." or Path(norm).suffix.lower() not in MEDIA_TYPES:
        return None
    full = root / norm
    try:
        resolved = full.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return resolved if resolved.is_relative_to(root) and resolved.is_file() else None


def create_app(root: str | Path) -> Starlette:
    """The viewer's ASGI app over the dataset at ``root``."""
    index = DatasetIndex(root)
    lock = threading.Lock()  # views are built on first use; two requests must not build one twice

    def view_of(request: Request) -> str:
        return request.query_params.get("view") or index.info()["default_view"]

    def page(request: Request) -> Response:
        return HTMLResponse(page_html(static=False))

    def info(request: Request) -> Response:
        return JSONResponse(index.info())

    def summary(request: Request) -> Response:
        try:
            with lock:
                return JSONResponse(index.view(view_of(request)).summary())
        except KeyError as e:
            return PlainTextResponse(str(e.args[0]), status_code=404)

    def rows(request: Request) -> Response:
        try:
            q = parse_query(request.query_params)
            with lock:
                return JSONResponse(index.page(view_of(request), q))
        except KeyError as e:
            return PlainTextResponse(str(e.args[0]), status_code=404)
        except ValueError as e:
            return PlainTextResponse(str(e), status_code=400)

    def sample(request: Request) -> Response:
        try:
            with lock:
                row = index.sample(view_of(request), request.query_params.get("id", ""))
        except KeyError as e:
            return PlainTextResponse(str(e.args[0]), status_code=404)
        if row is None:
            return PlainTextResponse("no such sample", status_code=404)
        return JSONResponse(row)

    def media(request: Request) -> Response:
        f = safe_media_path(index.root, request.path_params["path"])
        if f is None:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(f, media_type=MEDIA_TYPES[f.suffix.lower()])

    return Starlette(routes=[
        Route("/", page),
        Route("/api/info", info),
        Route("/api/summary", summary),
        Route("/api/rows", rows),
        Route("/api/sample", sample),
        Route("/media/{path:path}", media),
        Mount("/assets", StaticFiles(packages=[("ditto_data.viewer", "web")]), name="assets"),
    ])  # fmt: skip


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(root: str | Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the viewer until interrupted."""
    import uvicorn

    app = create_app(root)
    if not is_loopback(host):
        log.warning("serving %s on %s: anyone who can reach this address can read the dataset", root, host)
    log.info("viewer of %s at http://%s:%d/", Path(root).resolve(), host if ":" not in host else f"[{host}]", port)
    uvicorn.run(app, host=host, port=port, log_level="warning")
