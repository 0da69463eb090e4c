"""ditto_data.load, aligned clip sampling, bad data and the modality curriculum, on real clips."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from loaders_data import H, N, W, ditto, hashes, media_clips, ours, write_tree  # noqa: F401

import ditto_data
from ditto_data.loaders import (ClipSampler, DatasetReadError, ModalityCurriculum, TripletClipDataset,
                                diffsynth, list_configs)
from ditto_data.dataset.features import ROW_COLUMNS, SOURCE_COLUMNS


def negation_error(src: torch.Tensor, edt: torch.Tensor) -> float:
    """Mean |edited - (255 - source)|: small when the frames are the same instant."""
    return (edt.float() - (255 - src.float())).abs().mean().item()


# -- ditto_data.load -----------------------------------------------------------------------------

def test_load_our_build(ours):
    import datasets

    ds = ditto_data.load(ours, "global_style")
    assert isinstance(ds, datasets.Dataset) and len(ds) == 8
    assert list(ds.features) == list(ROW_COLUMNS)  # EDIT_COLUMNS + dataset, original
    assert set(ds["dataset"]) == {"ditto-1m"}
    assert isinstance(ds.features["source_video"], datasets.Video)
    raw = ds.with_format(None).cast_column("edited_video", datasets.Video(decode=False))[0]
    assert Path(raw["edited_video"]["path"]).is_absolute()
    row = ds[0]
    assert row["caption"] == f"caption of {row['source_id']}" and row["category"] == "global_style"
    assert row["id"].startswith(row["source_id"] + "_")
    assert row["edited_video"].metadata.num_frames == N  # stock Video feature decodes our files
    # the entry without source_path found its source by dropping _<n>
    assert {r["source_path"] for r in ds} == {f"source/0000/{h}.mp4" for h in hashes()}


def test_load_ditto1m_download(ditto, caplog):
    with caplog.at_level(logging.WARNING):
        ds = ditto_data.load(str(ditto), "global")
    assert len(ds) == 5  # 4 good + the corrupt one (missing one reported and left out)
    missing = [r for r in caplog.records if "missing" in r.getMessage()]
    assert len(missing) == 1 and f"{hashes()[0]}_9.mp4" in missing[0].getMessage()
    assert set(ds["category"]) == {"global_style"}  # upload batch global_style1 -> its category
    import datasets

    paths = [v["path"] for v in ds.cast_column("edited_video", datasets.Video(decode=False))["edited_video"]]
    assert all("/videos/global_style1/global_style1/0000/" in p for p in paths)  # doubled layout found
    assert "global" in list_configs(ditto) and "source" in list_configs(ditto)


def test_load_streaming_and_source_config(ours):
    import datasets

    it = ditto_data.load(ours, "global_style", streaming=True)
    assert isinstance(it, datasets.IterableDataset)
    assert sorted(r["id"] for r in it) == sorted(ditto_data.load(ours, "global_style")["id"])
    src = ditto_data.load(ours, "source")
    assert list(src.features) == list(SOURCE_COLUMNS) and len(src) == 4
    assert set(src["num_frames"]) == {N} and set(src["width"]) == {W} and set(src["height"]) == {H}
    assert all(c.startswith("caption of ") for c in src["caption"])


def test_load_errors_are_clear(ours, tmp_path):
    with pytest.raises(DatasetReadError, match="no metadata for config 'local'.*global_style"):
        ditto_data.load(ours, "local")
    with pytest.raises(ValueError, match="one split"):
        ditto_data.load(ours, "global_style", split="test")
    empty = tmp_path / "empty"
    (empty / "training_metadata").mkdir(parents=True)
    (empty / "training_metadata" / "local.json").write_text('[{"edited_path": "local/0000/ab_0.mp4"}]')
    with pytest.raises(DatasetReadError, match="no readable rows"):
        ditto_data.load(empty, "local")


# -- clip sampling ---------------------------------------------------------------------------------

def test_clip_sampler_indices():
    assert ClipSampler(5, stride=2, start="start").indices(41) == [0, 2, 4, 6, 8]
    assert ClipSampler(5, stride=2, start="center").indices(41) == [16, 18, 20, 22, 24]
    assert ClipSampler(5, fps=10, start="start").indices(41, 20.0) == [0, 2, 4, 6, 8]
    assert ClipSampler(3, start="start").indices(2) == [0, 1, 1]  # pad repeats the last frame
    r = [ClipSampler(17, seed=3).indices(41, rng=np.random.default_rng(k))[0] for k in range(20)]
    assert len(set(r)) > 1 and all(0 <= s <= 24 for s in r)
    ds = ClipSampler.diffsynth(81)
    assert ds.indices(100) == list(range(81)) and ds.indices(41) == list(range(41))
    assert len(ds.indices(40)) == 37  # shrink to the largest 4k+1
    with pytest.raises(ValueError, match="4k\\+1"):
        ClipSampler.diffsynth(80)


def test_aligned_clips(ours):
    ds = TripletClipDataset(ours, num_frames=17, stride=2, start="random", seed=1, reference="always")
    i = next(k for k, r in enumerate(ds.rows) if r["source_id"] == hashes()[0])  # the bikes: much motion
    s = ds[i]
    assert s["source"].shape == s["edited"].shape == (17, 3, H, W) and s["source"].dtype == torch.uint8
    idx = s["frame_indices"].tolist()
    assert idx == list(range(idx[0], idx[0] + 34, 2))
    assert negation_error(s["source"], s["edited"]) < 25  # same instants in both streams
    assert negation_error(s["source"][1:], s["edited"][:-1]) > 2 * negation_error(s["source"], s["edited"]) + 3
    from ditto_data.video import read_frames

    frame0 = torch.from_numpy(read_frames(ds.rows[i]["edited_video"], [0])).permute(0, 3, 1, 2)[0]
    assert torch.equal(s["reference"], frame0) and s["has_reference"] is True
    assert s["instruction"].startswith("negate") and s["caption"].startswith("caption of")
    assert s["id"] == ds.rows[i]["id"] and s["source_id"] == ds.rows[i]["source_id"]
    again = TripletClipDataset(ours, num_frames=17, stride=2, seed=1)[i]
    assert again["frame_indices"].tolist() == idx and torch.equal(again["source"], s["source"])


def test_recycled_frame_memory_never_overwrites_a_held_sample(ours):
    """Clips decode into recycled arrays (FramePool): a sample the caller still holds, or any view
    of it, must keep its frames while later samples are read; a dropped one's memory is reused."""
    from ditto_data.loaders.decode import FramePool

    ds = TripletClipDataset(ours, num_frames=9, start="random", seed=3)
    first = ds[0]
    view = ds[1]["edited"][2:5, :, 10:]  # only a view of sample 1 survives
    kept = first["source"].clone(), view.clone()
    for j in range(2, 8):
        ds[j % len(ds)]
    assert torch.equal(first["source"], kept[0]) and torch.equal(view, kept[1])

    pool = FramePool(keep=2)
    a = pool.take((2, 4, 4, 3))
    held = torch.from_numpy(a).permute(0, 3, 1, 2)[:, :, 1:]
    del a
    b = pool.take((2, 4, 4, 3))
    assert b.ctypes.data != held.data_ptr() - held.storage_offset()  # held through a tensor view
    addr = b.ctypes.data
    del b
    assert pool.take((2, 4, 4, 3)).ctypes.data == addr  # dropped: reused
    c, d, e = pool.take((1, 2, 2, 3)), pool.take((1, 2, 2, 3)), pool.take((1, 2, 2, 3))
    assert len(pool._arrays) == 2 and len({c.ctypes.data, d.ctypes.data, e.ctypes.data}) == 3


def test_resize_crop_and_diffsynth_preset(ours):
    s = TripletClipDataset(ours, num_frames=5, size=(128, 128), crop="random", dtype="float")[0]
    assert s["source"].shape == (5, 3, 128, 128) and s["source"].dtype == torch.float32
    assert -1.0 <= s["source"].min() and s["source"].max() <= 1.0
    assert negation_error((s["source"] + 1) * 127.5, (s["edited"] + 1) * 127.5) < 25  # same crop window
    d = diffsynth(ours, num_frames=81, height=96, width=160)[0]
    assert d["source"].shape == (41, 3, 96, 160) and d["frame_indices"].tolist() == list(range(41))
    with pytest.raises(ValueError, match="multiples of 16"):
        TripletClipDataset(ours, size=(100, 160))


# -- bad data ----------------------------------------------------------------------------------------

def test_corrupt_file_skipped_once_and_counted(ditto, caplog):
    ds = TripletClipDataset(ditto, "global", num_frames=9, start="start")
    bad = next(i for i, r in enumerate(ds.rows) if r["id"].endswith("_7"))
    with caplog.at_level(logging.WARNING):
        got = [ds[i]["id"] for i in range(len(ds))]
        got += [ds[bad]["id"]]
    assert ds.skipped == 2 and ds.rows[bad]["id"] not in got
    assert got[bad] == ds.rows[(bad + 1) % len(ds)]["id"]  # the next readable sample stands in
    warn = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(warn) == 1 and f"{hashes()[1]}_7.mp4" in warn[0]


def test_dataloader_two_workers_survives_bad_data(ditto):
    ds = TripletClipDataset(ditto, "global", num_frames=9, size=(96, 160))
    dl = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2)
    ids = [i for b in dl for i in b["id"]]
    assert len(ids) == len(ds) and ds.skipped == 1  # counted across workers
    assert not any(i.endswith("_7") for i in ids)


def test_zero_readable_samples_is_a_clear_error(media_clips, tmp_path):
    root = write_tree(tmp_path / "bad", media_clips, edits_per_source=1)
    for p in (root / "videos" / "global_style").rglob("*.mp4"):
        p.write_bytes(b"not a video")
    ds = TripletClipDataset(root, num_frames=5)
    with pytest.raises(DatasetReadError, match="none of the 4 samples could be read"):
        ds[0]
    for p in (root / "videos" / "global_style").rglob("*.mp4"):
        p.unlink()
    with pytest.raises(DatasetReadError, match="no triplet with both videos present"):
        TripletClipDataset(root)


# -- modality curriculum ----------------------------------------------------------------------------

def test_curriculum_values():
    lin = ModalityCurriculum(warmup_steps=100, anneal_steps=200)
    assert [lin.probability(s) for s in (0, 99, 100, 200, 300, 10_000)] == [1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    cos = ModalityCurriculum(100, 200, schedule="cosine")
    assert cos.probability(150) == pytest.approx(0.5 * (1 + np.cos(np.pi / 4)))
    assert cos.probability(200) == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    assert all(lin.sample(50, rng) for _ in range(100)) and not any(lin.sample(300, rng) for _ in range(100))
    assert 350 < sum(lin.sample(200, rng) for _ in range(1000)) < 650


def test_curriculum_reaches_running_workers(ours):
    cur = ModalityCurriculum(warmup_steps=10, anneal_steps=10)
    ds = TripletClipDataset(ours, num_frames=3, size=(96, 160), curriculum=cur)
    dl = torch.utils.data.DataLoader(ds, batch_size=1, num_workers=1, prefetch_factor=1)
    flags = []
    for k, b in enumerate(dl):
        flags.append(bool(b["has_reference"]))
        if k == 0:
            ds.set_step(1000)  # shared with the running worker: no new iterator needed
    assert flags[0] is True and flags[-4:] == [False] * 4
    assert b["reference"].shape == (1, 3, 96, 160)
