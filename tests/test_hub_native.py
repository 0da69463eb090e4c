"""Hub-native: export -> pack -> publish (huggingface_hub's real upload path) -> olah serves exactly what was
uploaded -> stock `datasets.load_dataset` (no ditto_data import, no extraction) decodes every config's videos,
in both loading modes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from export_fixtures import make_media, make_records
from hub_servers import Olah, UploadHub

from ditto_data import atomic, layout
from ditto_data.builders.config import ExportConfig
from ditto_data.cards import validate_card
from ditto_data.exports import export_dataset
from ditto_data.hub import PublishError, pack, plan_publish, publish
from ditto_data.schema import SIM2REAL_INSTRUCTION

pytest.importorskip("olah")

REPO_ID = "me/ditto-native"

# Stock datasets only: this script must not import ditto_data.
STOCK = """
import hashlib, json, sys
from datasets import load_dataset

def digest(decoder):
    return hashlib.sha256(decoder.get_frame_at(0).data.numpy().tobytes()).hexdigest()

out = {}
for config in sys.argv[2:]:
    for streaming in (False, True):
        rows = []
        for r in load_dataset(sys.argv[1], config, split="train", streaming=streaming):
            videos = {k: [len(v), digest(v)] for k, v in r.items() if k.endswith(".mp4")}
            rows.append({"key": r["__key__"], "json": r["json"], "videos": videos})
        out[f"{config}:{streaming}"] = sorted(rows, key=lambda x: x["key"])
print(json.dumps(out))
"""


def frame0(path: Path) -> tuple[int, str]:
    import hashlib

    from torchcodec.decoders import VideoDecoder

    d = VideoDecoder(str(path))
    return len(d), hashlib.sha256(d.get_frame_at(0).data.numpy().tobytes()).hexdigest()


@pytest.fixture(scope="module")
def packed(media_dir, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("native")
    out = tmp / "OUT"
    records = make_records(out, make_media(media_dir, tmp / "media"), Path("/raw"))
    export_dataset(out, records, ExportConfig(), progress=False)
    atomic.write_json(layout.state_dir(out) / "records.json", [r.to_dict() for r in records])
    pack(out, "40KB", progress=False)
    return out


def test_sim2real_is_exported_reversed_from_global_style(packed):
    style = json.loads((packed / "training_metadata" / "global_style.json").read_text())
    sim = json.loads((packed / "training_metadata" / "sim2real.json").read_text())
    assert sim == [{"source_path": e["edited_path"], "instruction": SIM2REAL_INSTRUCTION,
                    "edited_path": e["source_path"]} for e in style]
    csv_lines = (packed / "csvs_for_DiffSynth" / "sim2real.csv").read_text().splitlines()
    assert csv_lines[0] == "video,prompt,vace_video"
    assert csv_lines[1:] == [f"{e['source_path']},{SIM2REAL_INSTRUCTION},{e['edited_path']}" for e in style]


def test_card_configs_read_the_hub_shards_and_are_checked_against_the_publish_plan(packed):
    import yaml

    meta = yaml.safe_load((packed / "README.md").read_text().split("---\n")[1])
    configs = {c["config_name"]: c["data_files"][0]["path"] for c in meta["configs"]}
    assert configs == {c: f"webdataset/{c}/{c}-*.tar" for c in ("global_style", "local", "sim2real", "source")}
    files = [f.path for f in plan_publish(packed).files]
    assert "webdataset/global_style/global_style-000000.tar" in files and "LICENSE.md" in files
    validate_card(packed / "README.md", files=files)
    # a card reading the loose videos is refused before upload: publish leaves them out
    without = [f for f in files if not f.startswith("webdataset/")]
    with pytest.raises(Exception, match=r"configs\[global_style\].*matches no file among the files to publish"):
        validate_card(packed / "README.md", files=without)


def test_stale_shards_are_not_advertised(packed, tmp_path):
    import shutil

    from ditto_data.cards import refresh_configs

    copy = tmp_path / "copy"
    shutil.copytree(packed, copy)
    gs = json.loads((copy / "training_metadata" / "global_style.json").read_text())
    (copy / "training_metadata" / "global_style.json").write_text(json.dumps(gs[:1]))  # the dataset changed
    refresh_configs(copy)
    with pytest.raises(PublishError, match="global_style.*matches no file"):
        publish(copy, REPO_ID, endpoint="http://127.0.0.1:9", token="hf_test")


def test_stock_load_dataset_from_the_hub_decodes_every_config_in_both_modes(packed, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    with UploadHub(tmp_path / "hub") as hub:
        publish(packed, REPO_ID, endpoint=hub.endpoint, token="hf_test")
    with Olah(hub.root, tmp_path / "olah") as olah:
        env = {**os.environ, "HF_ENDPOINT": olah.endpoint, "HF_HUB_DISABLE_XET": "1",
               "HF_HOME": str(tmp_path / "hf_home"), "PYTHONPATH": ""}
        configs = ["global_style", "local", "sim2real", "source"]
        r = subprocess.run([sys.executable, "-c", STOCK, REPO_ID, *configs], env=env, capture_output=True,
                           text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-4000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])

    def expect(config: str) -> list[dict]:
        rows = []
        for e in json.loads((packed / "training_metadata" / f"{config}.json").read_text()):
            src, edt = (layout.video_path(packed, e[k]) for k in ("source_path", "edited_path"))
            key = Path(e["edited_path" if config != "sim2real" else "source_path"]).stem
            rows.append({"key": key, "instruction": e["instruction"],
                         "videos": {"source.mp4": list(frame0(src)), "edited.mp4": list(frame0(edt))}})
        return sorted(rows, key=lambda x: x["key"])

    for config in ("global_style", "local", "sim2real"):
        for streaming in ("False", "True"):
            rows = got[f"{config}:{streaming}"]
            assert [{"key": x["key"], "instruction": x["json"]["instruction"], "videos": x["videos"]}
                    for x in rows] == expect(config), (config, streaming)
    sim = got["sim2real:True"]
    assert sim and all(x["json"]["instruction"] == SIM2REAL_INSTRUCTION for x in sim)
    sources = sorted((p.stem, list(frame0(p))) for p in (packed / "videos" / "source").glob("*/*.mp4"))
    for streaming in ("False", "True"):
        assert [(x["key"], x["videos"]["video.mp4"]) for x in got[f"source:{streaming}"]] == sources
        assert all(x["json"]["caption"] for x in got[f"source:{streaming}"])


def test_hub_shards_are_plain_webdataset(packed):
    shard = packed / "webdataset" / "global_style" / "global_style-000000.tar"
    with tarfile.open(shard) as tf:
        names = tf.getnames()
    key = names[0].split(".")[0]
    assert names[:3] == [f"{key}.json", f"{key}.source.mp4", f"{key}.edited.mp4"]
    index = json.loads((shard.parent / "_shards.json").read_text())
    assert index["__kind__"] == "wids-shard-index-v1" and index["wids_version"] == 1
    assert sum(s["nsamples"] for s in index["shardlist"]) == 3 and len(index["shardlist"]) == 3  # one per sample
