"""Streaming: rank/worker splitting, seeded shuffle, mid-epoch resume; WebDataset shards and URLs."""

from __future__ import annotations

import logging
from pathlib import Path

import fsspec
import pytest
import torch
from loaders_data import ditto, media_clips, ours  # noqa: F401

from ditto_data.cli import main
from ditto_data.exports.webdataset import write_webdataset
from ditto_data.loaders import StatefulLoader, StreamingTripletDataset, read_triplets

OPTS = dict(num_frames=3, size=(48, 80), start="start", buffer_size=4)


def ids(it) -> list[str]:
    return [i for b in it for i in (b["id"] if isinstance(b["id"], list) else [b["id"]])]


def test_one_epoch_no_duplicates_ranks_and_workers(ours):
    everything = sorted(r["id"] for r in read_triplets(ours, "global_style"))
    for nw in (0, 2):
        got = ids(torch.utils.data.DataLoader(StreamingTripletDataset(ours, **OPTS), batch_size=2, num_workers=nw))
        assert sorted(got) == everything
    per_rank = [ids(torch.utils.data.DataLoader(StreamingTripletDataset(ours, rank=r, world_size=2, **OPTS),
                                                batch_size=1, num_workers=2)) for r in (0, 1)]
    assert not set(per_rank[0]) & set(per_rank[1]) and sorted(per_rank[0] + per_rank[1]) == everything


def test_seeded_order_and_epochs(ours):
    a, b = StreamingTripletDataset(ours, seed=5, **OPTS), StreamingTripletDataset(ours, seed=5, **OPTS)
    first = ids(a)
    assert first == ids(b)
    a.set_epoch(1)
    assert ids(a) != first and sorted(ids(a)) == sorted(first)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_mid_epoch(ours, num_workers):
    kw = dict(batch_size=1, num_workers=num_workers)
    full = ids(StatefulLoader(StreamingTripletDataset(ours, seed=3, **OPTS), **kw))
    ds = StreamingTripletDataset(ours, seed=3, **OPTS)
    loader, before = StatefulLoader(ds, **kw), []
    for b in loader:
        before += b["id"]
        if len(before) == 3:
            break
    state = loader.state_dict()
    assert sum(state["consumed"].values()) == 3
    resumed = StreamingTripletDataset(ours, seed=3, **OPTS)
    resumed.load_state_dict(state)
    after = ids(StatefulLoader(resumed, **kw))
    assert len(after) == len(full) - 3 and sorted(before + after) == sorted(full)
    assert resumed.epoch == 1  # the finished epoch moved it on


def test_streaming_skips_bad_data(ditto, caplog):
    ds = StreamingTripletDataset(ditto, "global", **OPTS)
    with caplog.at_level(logging.WARNING):
        got = ids(torch.utils.data.DataLoader(ds, batch_size=1, num_workers=2))
    assert len(got) == 4 and not any(i.endswith("_7") for i in got) and ds.skipped == 1


def test_webdataset_export_and_read(ours, tmp_path):
    shards = write_webdataset(ours, tmp_path / "a", max_samples=3, progress=False)
    again = write_webdataset(ours, tmp_path / "b", max_samples=3, progress=False)
    assert [p.name for p in shards] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    assert [p.read_bytes() for p in shards] == [p.read_bytes() for p in again]  # deterministic
    import tarfile

    with tarfile.open(shards[0]) as tf:
        names = tf.getnames()
    assert names[:3] == [f"{n.split('.')[0]}.{s}" for n, s in zip(names[:3], ("json", "source.mp4", "edited.mp4"))]
    everything = sorted(r["id"] for r in read_triplets(ours, "global_style"))
    for spec in (tmp_path / "a", f"file://{tmp_path / 'a'}", str(tmp_path / "a" / "shard-{000000..000002}.tar")):
        got = ids(torch.utils.data.DataLoader(StreamingTripletDataset(spec, **OPTS), batch_size=2, num_workers=2))
        assert sorted(got) == everything, spec
    fs = fsspec.filesystem("memory")
    for p in shards:
        fs.pipe(f"/wds/{p.name}", p.read_bytes())
    mem = StreamingTripletDataset("memory://wds", **OPTS)  # in-process: memory fs is per process
    s = next(iter(mem))
    assert s["source"].shape == (3, 3, 48, 80) and s["instruction"].startswith("negate")
    assert sorted(ids(mem)) == everything


def test_webdataset_broken_shard_and_cli(ours, tmp_path, caplog):
    assert main(["export", "webdataset", str(ours), "--to", str(tmp_path / "w"), "--max-samples", "4",
                 "--quiet"]) == 0
    shards = sorted((tmp_path / "w").glob("*.tar"))
    assert len(shards) == 2 and (tmp_path / "w" / "_shards.json").is_file()
    data = shards[1].read_bytes()
    shards[1].write_bytes(data[: len(data) // 2])  # truncated mid-member
    ds = StreamingTripletDataset(tmp_path / "w", shuffle=False, **OPTS)
    with caplog.at_level(logging.WARNING):
        got = ids(ds)
    assert 4 <= len(got) < 8 and any("shard-000001.tar" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_torchdata_stateful_dataloader_resumes_every_sample_exactly_once(ours, num_workers):
    """torchdata's StatefulDataLoader drives the dataset's state_dict/load_state_dict per worker."""
    from torchdata.stateful_dataloader import StatefulDataLoader

    kw = dict(batch_size=1, num_workers=num_workers)
    full = ids(StatefulDataLoader(StreamingTripletDataset(ours, seed=3, **OPTS), **kw))
    assert len(full) == len(set(full)) == 8
    loader, before = StatefulDataLoader(StreamingTripletDataset(ours, seed=3, **OPTS), **kw), []
    for b in loader:
        before += b["id"]
        if len(before) == 3:  # workers have prefetched more than this by now
            break
    state = loader.state_dict()
    del loader
    resumed = StatefulDataLoader(StreamingTripletDataset(ours, seed=3, **OPTS), **kw)
    resumed.load_state_dict(state)
    after = ids(resumed)
    assert len(after) == len(full) - 3 and sorted(before + after) == sorted(full)
