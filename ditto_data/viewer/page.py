"""The viewer's HTML page, served or written to disk: one file, told where its data comes from."""

from __future__ import annotations

from importlib import resources

WEB = "web"
ASSETS = ("app.js", "app.css")  # everything the page loads besides its data: shipped in the package


def asset_bytes(name: str) -> bytes:
    return resources.files(__package__).joinpath(WEB, name).read_bytes()


def page_html(static: bool) -> str:
    """The page; a static one first loads ``data/info.js`` (browsers refuse ``fetch`` on ``file://``,
    so static data comes as scripts), a served one asks the API."""
    html = asset_bytes("index.html").decode()
    data = '<script src="data/info.js"></script>' if static else ""
    return html.replace("<!--DATA-->", data)
