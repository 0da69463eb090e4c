"""Export on real small videos: the Ditto-1M tree, DiffSynth CSVs and stock datasets.load_dataset."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ditto_data import layout
from ditto_data.builders.config import ExportConfig
from ditto_data.exports import export_dataset
from ditto_data.exports.facts import video_facts

from export_fixtures import FRAMES, H, INSTRUCTIONS, W, make_media, make_records
from trees import user_files

META_FILES = ("training_metadata", "source_video_captions", "csvs_for_DiffSynth")


@pytest.fixture(scope="session")
def media(media_dir, tmp_path_factory):
    return make_media(media_dir, tmp_path_factory.mktemp("media"))


@pytest.fixture()
def built(media, tmp_path):
    out = tmp_path / "OUT"
    records = make_records(out, media, tmp_path / "in")
    counts = export_dataset(out, records, ExportConfig(shard_size=1), progress=False)
    return out, records, counts


def _ids(records):
    clips = sorted(r.id for r in records if r.kind == "clip" and r.ok)
    return clips[0], clips[1]


def test_tree_and_metadata_contents(built):
    out, records, counts = built
    a, b = _ids(records)
    assert counts == {"global_style": 3, "local": 1, "source": 2}
    videos = sorted(p.relative_to(out / "videos").as_posix() for p in (out / "videos").rglob("*.mp4"))
    assert videos == sorted([f"source/0000/{a}.mp4", f"source/0001/{b}.mp4", f"global_style/0000/{a}_0.mp4",
                             f"global_style/0000/{a}_1.mp4", f"global_style/0001/{b}_0.mp4", f"local/0001/{b}_1.mp4"])
    # a video is a hard link to the work dir's finished file, not a copy
    src_rec = next(r for r in records if r.id == a)
    assert (out / "videos" / f"source/0000/{a}.mp4").samefile(out / src_rec.artifacts["video"])

    gs = json.loads((out / "training_metadata/global_style.json").read_text())
    assert gs == [
        {"source_path": f"source/0000/{a}.mp4", "instruction": INSTRUCTIONS[0], "edited_path": f"global_style/0000/{a}_0.mp4"},
        {"source_path": f"source/0000/{a}.mp4", "instruction": INSTRUCTIONS[1], "edited_path": f"global_style/0000/{a}_1.mp4"},
        {"source_path": f"source/0001/{b}.mp4", "instruction": INSTRUCTIONS[0], "edited_path": f"global_style/0001/{b}_0.mp4"},
    ]  # fmt: skip
    for row in gs:  # Ditto's rule: the source of an edited path is found by dropping _<n>
        assert layout.source_of_edited(row["edited_path"]) == row["source_path"]
    assert json.loads((out / "training_metadata/local.json").read_text()) == [
        {"source_path": f"source/0001/{b}.mp4", "instruction": INSTRUCTIONS[1], "edited_path": f"local/0001/{b}_1.mp4"}]
    caps = json.loads((out / "source_video_captions/source_video_captions_0000.json").read_text())
    assert caps == [{"path": f"0000/{a}.mp4", "caption": "People ride bikes down a sunny street, cars pass by."},
                    {"path": f"0001/{b}.mp4", "caption": "A white cockatoo pecks at the camera lens."}]
    assert not (out / "training_metadata/global_freeform.json").exists()
    assert not list(out.rglob("*.tmp-*"))


def test_unpublishable_edits_are_rejected_by_export_with_a_reason(built):
    out, records, _ = built
    a, _b = _ids(records)
    bad = next(r for r in records if r.id == f"{a}_2")
    assert (bad.status, bad.rejected_by, bad.reason) == ("rejected", "export", "shape_mismatch")
    assert "30 frames" in bad.message and "41 frames" in bad.message
    assert not list((out / "videos").rglob(f"{a}_2.mp4"))


def test_diffsynth_csv_reads_with_pandas_without_nan_and_equal_frame_counts(built):
    out, _, _ = built
    df = pd.read_csv(out / "csvs_for_DiffSynth/global_style.csv")
    assert list(df.columns) == ["video", "prompt", "vace_video"]
    assert len(df) == 3 and not df.isna().any().any()
    assert df["prompt"].iloc[0] == INSTRUCTIONS[0]  # commas and quotes survive quoting
    for _, row in df.iterrows():  # --dataset_base_path OUT/videos --data_file_keys "video,vace_video"
        edited, source = out / "videos" / row["video"], out / "videos" / row["vace_video"]
        assert edited.is_file() and source.is_file()
        assert video_facts(edited).shape == video_facts(source).shape == (FRAMES, W, H)


def test_reference_image_column_when_kept(media, tmp_path):
    out = tmp_path / "OUT"
    export_dataset(out, make_records(out, media, tmp_path / "in"), ExportConfig(keep_reference_image=True),
                   progress=False)
    df = pd.read_csv(out / "csvs_for_DiffSynth/global_style.csv")
    assert list(df.columns) == ["video", "prompt", "vace_video", "vace_reference_image"]
    assert not df.isna().any().any()
    for ref, video in zip(df["vace_reference_image"], df["video"]):
        assert ref == video[: -len(".mp4")] + ".png" and (out / "videos" / ref).is_file()


@pytest.mark.parametrize("streaming", [False, True])
def test_stock_load_dataset_decodes_both_videos(built, streaming, tmp_path):
    datasets = pytest.importorskip("datasets")
    out, records, _ = built
    a, b = _ids(records)
    cache = str(tmp_path / "hf-cache")  # this test's own: `datasets` keys local folders by name and mtimes
    ds = datasets.load_dataset(str(out), "global_style", split="train", streaming=streaming, cache_dir=cache)
    rows = list(ds)
    assert [r["id"] for r in rows] == [f"{a}_0", f"{a}_1", f"{b}_0"]
    assert rows[0]["instruction"] == INSTRUCTIONS[0] and rows[0]["source_id"] == a
    assert rows[2]["caption"] == "A white cockatoo pecks at the camera lens."
    for r in rows:
        for col in ("source_video", "edited_video"):
            frame = r[col].get_frame_at(FRAMES - 1).data
            assert tuple(frame.shape) == (3, H, W), col
        assert len(r["source_video"]) == len(r["edited_video"]) == FRAMES
    local = list(datasets.load_dataset(str(out), "local", split="train", streaming=streaming, cache_dir=cache))
    assert [r["id"] for r in local] == [f"{b}_1"] and local[0]["category"] == "local"
    sim = list(datasets.load_dataset(str(out), "sim2real", split="train", streaming=streaming, cache_dir=cache))
    assert [r["id"] for r in sim] == [f"{a}_0", f"{a}_1", f"{b}_0"] and {r["category"] for r in sim} == {"sim2real"}
    assert sim[0]["source_path"] == rows[0]["edited_path"] and sim[0]["edited_path"] == rows[0]["source_path"]
    assert sim[0]["instruction"] == "Turn it into the real domain." and len(sim[0]["edited_video"]) == FRAMES

    src = list(datasets.load_dataset(str(out), "source", split="train", streaming=streaming, cache_dir=cache))
    assert [r["id"] for r in src] == [a, b]
    assert src[0]["caption"].startswith("People ride bikes")
    assert (src[0]["num_frames"], src[0]["width"], src[0]["height"], src[0]["fps"]) == (FRAMES, W, H, 20.0)
    assert tuple(src[1]["video"].get_frame_at(0).data.shape) == (3, H, W)
    # a source's path means what a triplet's source_path means, whichever reader gives the row
    assert src[0]["path"] == rows[0]["source_path"] == f"source/0000/{a}.mp4"
    from ditto_data.dataset.tree import read_sources

    assert [(r["id"], r["path"]) for r in read_sources(out, probe_files=False)] == [(r["id"], r["path"]) for r in src]


def test_export_again_gives_identical_bytes(built, media):
    out, records, _ = built
    before = user_files(out)
    again = make_records(out, media, out.parent / "in")  # the same build, records as the ledger gives them
    export_dataset(out, again, ExportConfig(shard_size=1), progress=False)
    assert user_files(out) == before


def test_stale_files_of_a_previous_export_are_removed(built):
    out, records, _ = built
    a, b = _ids(records)
    (out / ".ditto" / "keep.txt").write_text("builder state")
    recs = copy.deepcopy(records)
    for r in recs:  # a config change: the local edit is now rejected by the judge
        if r.id == f"{b}_1":
            r.reject("judge", "low_quality", "quality 0.1 below 0.5")
    counts = export_dataset(out, recs, ExportConfig(shard_size=1), progress=False)
    assert counts == {"global_style": 3, "source": 2}
    assert not (out / "videos/local").exists()
    assert not (out / "training_metadata/local.json").exists()
    assert not (out / "csvs_for_DiffSynth/local.csv").exists()
    assert (out / ".ditto" / "keep.txt").is_file()
    readme = (out / "README.md").read_text()
    assert "config_name: local" not in readme and "config_name: global_style" in readme

    counts = export_dataset(out, recs, ExportConfig(shard_size=1000), progress=False)  # shards move
    assert sorted(p.relative_to(out / "videos").as_posix() for p in (out / "videos").rglob("*.mp4")) == sorted(
        [f"source/0000/{a}.mp4", f"source/0000/{b}.mp4", f"global_style/0000/{a}_0.mp4",
         f"global_style/0000/{a}_1.mp4", f"global_style/0000/{b}_0.mp4"])  # fmt: skip
    assert not (out / "videos/source/0001").exists()


def test_nothing_publishable_gives_an_empty_but_valid_tree(tmp_path):
    out = tmp_path / "OUT"
    assert export_dataset(out, [], ExportConfig(), progress=False) == {}
    assert (out / "README.md").is_file() and not (out / "videos").exists()


_EXPORT_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from export_fixtures import make_records
from ditto_data.builders.config import ExportConfig
from ditto_data.exports import export_dataset
media = {{k: Path(v) for k, v in {media!r}.items()}}
out = Path(sys.argv[1])
export_dataset(out, make_records(out, media, Path("/data/in")), ExportConfig(shard_size=1), progress=False)
"""


def test_sigkill_during_export_then_rerun_gives_the_same_files(media, tmp_path):
    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "export.py"
    script.write_text(_EXPORT_SCRIPT.format(tests=str(root / "tests"), media={k: str(v) for k, v in media.items()}))
    env = {**os.environ, "PYTHONPATH": str(root)}
    ref, out = tmp_path / "ref", tmp_path / "killed"
    subprocess.run([sys.executable, str(script), str(ref)], check=True, env=env, capture_output=True)
    for delay in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0):
        proc = subprocess.Popen([sys.executable, str(script), str(out)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    from ditto_data import atomic

    atomic.sweep_tmp(out)  # what the runner does first
    subprocess.run([sys.executable, str(script), str(out)], check=True, env=env, capture_output=True)
    assert user_files(out) == user_files(ref)
    assert not list(out.rglob("*.tmp-*"))
