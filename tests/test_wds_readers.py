"""Our WebDataset shards in every reader people use: webdataset, wids (from our index), Ray Data, the datasets
webdataset builder, and ours with brace lists; the default shard size gives DataLoader workers shards of their own."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from loaders_data import media_clips, ours  # noqa: F401

from ditto_data.exports.webdataset import write_webdataset
from ditto_data.loaders import StreamingTripletDataset, read_triplets
from ditto_data.loaders.wds import expand_urls

OPTS = dict(num_frames=3, size=(48, 80), start="start", buffer_size=4)


@pytest.fixture(scope="module")
def shards(ours, tmp_path_factory):
    out = tmp_path_factory.mktemp("wds") / "global_style"
    write_webdataset(ours, out, progress=False, prefix="global_style")
    return out


def expected(ours) -> dict[str, tuple[int, int]]:
    """id -> (source bytes, edited bytes) of the dataset's files."""
    from pathlib import Path

    return {r["id"]: (Path(r["source_video"]).stat().st_size, Path(r["edited_video"]).stat().st_size)
            for r in read_triplets(ours, "global_style")}


def test_default_shard_size_gives_workers_shards_of_their_own(shards, ours, caplog):
    tars = sorted(shards.glob("*.tar"))
    assert len(tars) == 8  # 8 samples: MIN_SHARDS shards, though all of them fit in one 1GB shard
    with caplog.at_level(logging.WARNING):
        got = [i for b in torch.utils.data.DataLoader(StreamingTripletDataset(shards, **OPTS), batch_size=1,
                                                      num_workers=2) for i in b["id"]]
    assert sorted(got) == sorted(expected(ours)) and "reader(s)" not in caplog.text
    few = StreamingTripletDataset(tars[:1], rank=0, world_size=2, **OPTS)  # one shard, two readers: said clearly
    with caplog.at_level(logging.WARNING):
        list(few)
    assert "1 WebDataset shard(s) for 2 reader(s)" in caplog.text


def test_brace_lists_and_ranges(shards, ours):
    assert expand_urls("s/{a,b}-{000..002}.tar") == [f"s/{x}-{i:03d}.tar" for x in "ab" for i in range(3)]
    urls = [str(shards / "global_style-{000000..000003}.tar"),
            str(shards / "global_style-{000004,000005,000006,000007}.tar")]
    got = [s["id"] for s in StreamingTripletDataset(urls, **OPTS)]
    assert sorted(got) == sorted(expected(ours))
    one = str(shards / "global_style-{000000,000007}.tar")
    assert len(list(StreamingTripletDataset(one, **OPTS))) == 2


def test_webdataset_library_reads_them(shards, ours):
    import webdataset as wds

    samples = list(wds.WebDataset(str(shards / "global_style-{000000..000007}.tar"), shardshuffle=False))
    got = {s["__key__"]: (len(s["source.mp4"]), len(s["edited.mp4"])) for s in samples}
    assert got == expected(ours)
    assert json.loads(samples[0]["json"])["instruction"].startswith("negate")


def test_wids_reads_them_from_our_index(shards, ours):
    import wids

    ds = wids.ShardListDataset(str(shards / "_shards.json"))
    assert len(ds) == 8
    got = {}
    for i in range(len(ds)):
        s = ds[i]
        got[s["__key__"]] = (len(s[".source.mp4"].read()), len(s[".edited.mp4"].read()))
    assert got == expected(ours)


def test_datasets_webdataset_builder_makes_video_columns(shards, ours):
    import datasets

    ds = datasets.load_dataset("webdataset", data_files=str(shards / "*.tar"), split="train")
    assert all(isinstance(ds.features[c], datasets.Video) for c in ("source.mp4", "edited.mp4"))
    row = ds[0]
    assert len(row["source.mp4"]) == len(row["edited.mp4"]) == 41 and row["json"]["id"] == row["__key__"]


def test_ray_reads_the_shard_folder(shards, ours):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        rows = ray.data.read_webdataset(str(shards), decoder=None).take_all()
    finally:
        ray.shutdown()
    got = {r["__key__"]: (len(r["source.mp4"]), len(r["edited.mp4"])) for r in rows}
    assert got == expected(ours)
