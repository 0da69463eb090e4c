"""Screenshots of `ditto-data view` on a built dataset, for the README (docs/viewer-*.png).

Serves OUT on loopback, drives headless Chromium (the tests' DevTools driver) and saves three
pages: a triplet playing, a rejected record, the charts. Usage:
    .venv/bin/python scripts/viewer_screenshots.py demo-out docs/
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser import Browser  # noqa: E402
from PIL import Image  # noqa: E402
from test_viewer import Server  # noqa: E402


def shrink(path: Path, width: int = 1200) -> None:
    """Resize to ``width`` and quantise to 256 colours: a README image of a few hundred kB at most."""
    with Image.open(path) as im:
        im = im.convert("RGB").resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
        im.quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    server = Server(args.dataset)
    try:
        with Browser(width=1440, height=860) as b:
            b.goto(server.url + "#/global_style")
            b.wait_for("document.body.dataset.ready === '1' && document.querySelectorAll('#rows tbody tr').length > 0")
            row = b.eval("document.querySelectorAll('#rows tbody tr')[1].dataset.id")
            b.goto(server.url + f"#/global_style/{row}?sort=structure_preservation&desc=1")
            b.wait_for("document.querySelectorAll('#detail video').length >= 2 && "
                       "[...document.querySelectorAll('#detail video')].every(v => v.readyState >= 2)")
            b.eval("document.querySelector('#play').click()")
            time.sleep(2.0)
            b.eval("document.querySelector('#play').click()")
            time.sleep(0.5)
            b.screenshot(args.out / "viewer-triplet.png")

            b.goto(server.url + "#/rejected")
            b.wait_for("document.querySelector('#count').textContent.includes('rejected records')")
            rows = b.eval("[...document.querySelectorAll('#rows tbody tr')]"
                          ".map(tr => [tr.dataset.id, tr.cells[1].textContent])")
            rid = next((i for i, kind in rows if kind != "input"), rows[0][0])
            b.goto(server.url + f"#/rejected/{rid}")
            b.wait_for("!!document.querySelector('#reject-box')")
            time.sleep(0.5)
            b.eval("document.querySelector('#play') && document.querySelector('#play').click()")
            time.sleep(1.5)
            b.screenshot(args.out / "viewer-rejected.png")

            b.resize(1440, 1060)
            b.goto(server.url + "#/charts")
            b.wait_for("!!document.querySelector('#funnel')")
            time.sleep(0.3)
            b.screenshot(args.out / "viewer-charts.png")
    finally:
        server.stop()
    for name in ("viewer-triplet.png", "viewer-rejected.png", "viewer-charts.png"):
        shrink(args.out / name)
        print(args.out / name, (args.out / name).stat().st_size // 1000, "kB")


if __name__ == "__main__":
    main()
