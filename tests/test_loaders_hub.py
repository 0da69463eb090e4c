"""`ditto_data.load(repo_id)` against olah (a real Hub-compatible server): download, extract, read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hub_servers import Olah, git_repo_from_tree, make_ditto_tree

ROOT = Path(__file__).resolve().parents[1]
REPO_ID = "QingyanBai/Ditto-1M"

pytest.importorskip("olah")

SCRIPT = """
import json, sys, ditto_data
ds = ditto_data.load(sys.argv[1], "local", cache_dir=sys.argv[2])
rows = [{"id": r["id"], "instruction": r["instruction"], "frames": len(r["edited_video"]),
         "shape": list(r["source_video"].get_frame_at(0).data.shape)} for r in ds]
print(json.dumps(rows))
"""


def test_load_by_repo_id_downloads_only_what_the_config_needs_and_extracts_it(tmp_path, media_dir):
    tree, _ = make_ditto_tree(tmp_path / "src", media_dir)
    (tree / "training_metadata" / "local.json").write_text(json.dumps([
        {"source_path": "source/0000/a1b2c3d4e5f60718.mp4", "instruction": "make it red",
         "edited_path": "local/0000/a1b2c3d4e5f60718_0.mp4"},
        {"source_path": "source/0000/0f1e2d3c4b5a6978.mp4", "instruction": "add a hat",
         "edited_path": "local/0000/0f1e2d3c4b5a6978_0.mp4"},
    ]))
    git_repo_from_tree(tree, tmp_path / "mirrors" / "datasets" / REPO_ID)
    local = tmp_path / "local"
    with Olah(tmp_path / "mirrors", tmp_path / "olah") as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_ENDPOINT": server.endpoint, "HF_HUB_DISABLE_XET": "1",
               "HF_HOME": str(tmp_path / "hf_home")}
        r = subprocess.run([sys.executable, "-c", SCRIPT, REPO_ID, str(local)], env=env, capture_output=True,
                           text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    assert sorted((x["id"], x["instruction"]) for x in rows) == [
        ("0f1e2d3c4b5a6978_0", "add a hat"), ("a1b2c3d4e5f60718_0", "make it red")]
    assert all(x["frames"] > 0 and x["shape"][0] == 3 for x in rows)
    fetched = {p.name for p in (local / "videos").glob("*.tar.gz.*")}
    assert fetched and all(n.startswith(("local.", "source.")) for n in fetched), fetched  # nothing else
    assert (local / "videos" / "local" / "0000" / "a1b2c3d4e5f60718_0.mp4").is_file()  # extracted in place


SIM2REAL_SCRIPT = """
import json, sys, ditto_data
ds = ditto_data.load(sys.argv[1], "sim2real")  # cached under the HF datasets cache
print(json.dumps([{"id": r["id"], "category": r["category"], "instruction": r["instruction"],
                   "source": r["source_path"], "edited": r["edited_path"], "frames": len(r["edited_video"])}
                  for r in ds]))
"""


def test_sim2real_loads_from_a_ditto1m_download(tmp_path, media_dir):
    """Ditto-1M's sim2real.json: reversed triplets, a stylised video (in an upload batch) as the source."""
    tree, _ = make_ditto_tree(tmp_path / "src", media_dir)
    back = "Turn it into the real domain."
    entries = [{"source_path": "global_style1/0000/a1b2c3d4e5f60718_1.mp4", "instruction": back,
                "edited_path": "source/0000/a1b2c3d4e5f60718.mp4"},
               {"source_path": "global_style2/0000/0f1e2d3c4b5a6978_1.mp4", "instruction": back,
                "edited_path": "source/0000/0f1e2d3c4b5a6978.mp4"}]
    (tree / "training_metadata" / "sim2real.json").write_text(json.dumps(entries))
    git_repo_from_tree(tree, tmp_path / "mirrors" / "datasets" / REPO_ID)
    local = tmp_path / "hf_home" / "datasets" / "ditto-data" / REPO_ID.replace("/", "--")
    with Olah(tmp_path / "mirrors", tmp_path / "olah") as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_ENDPOINT": server.endpoint, "HF_HUB_DISABLE_XET": "1",
               "HF_HOME": str(tmp_path / "hf_home")}
        env.pop("HF_DATASETS_CACHE", None)
        r = subprocess.run([sys.executable, "-c", SIM2REAL_SCRIPT, REPO_ID], env=env, capture_output=True,
                           text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = sorted(json.loads(r.stdout.strip().splitlines()[-1]), key=lambda x: x["id"])
    assert [(x["id"], x["category"], x["source"], x["edited"]) for x in rows] == [
        ("0f1e2d3c4b5a6978_1", "sim2real", entries[1]["source_path"], entries[1]["edited_path"]),
        ("a1b2c3d4e5f60718_1", "sim2real", entries[0]["source_path"], entries[0]["edited_path"])]
    assert all(x["instruction"] == "Turn it into the real domain." and x["frames"] > 0 for x in rows)
    fetched = {p.name.split(".")[0] for p in (local / "videos").glob("*.tar.gz.*")}
    assert fetched == {"source", "global_style1", "global_style2"}  # the batches it needs, nothing else
