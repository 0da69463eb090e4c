"""Other public datasets through their descriptions: load, convert (then stock load_dataset and
DiffSynth's pandas CSV reading), stream, a user's own description, archives, mixing, the Hub."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from other_datasets import (FPS, H, N, W, make_insvie, make_kiwi, make_openve, make_reco, make_senorita, put,  # noqa: F401
                            tiny, write_csv)

import ditto_data
from ditto_data.catalog import Description, DescriptionError, describe, detect, names
from ditto_data.convert import convert
from ditto_data.hub import ArchiveError
from ditto_data.hub.extract import extract_described, extract_zip
from ditto_data.loaders import StreamingTripletDataset, TripletClipDataset
from ditto_data.loaders.described import Defects, read_rows, sniff_delimiter
from ditto_data.loaders.streaming import weighted_order
from ditto_data.dataset.features import ROW_COLUMNS

ROOT = Path(__file__).resolve().parents[1]


def make_ditto(root: Path, t: dict[str, Path]) -> Path:
    """Ditto-1M's tree: upload batch global_style1 in the doubled layout, one entry without source_path,
    one whose edited file is missing."""
    entries, caps = [], []
    for i in range(2):
        h = f"{i:016x}"
        put(root, f"videos/source/0000/{h}.mp4", t[f"src{i}"])
        put(root, f"videos/global_style1/global_style1/0000/{h}_0.mp4", t[f"edt{i}"])
        caps.append({"path": f"0000/{h}.mp4", "caption": f"caption {i}"})
        e = {"instruction": f"negate {i}", "edited_path": f"global_style1/0000/{h}_0.mp4"}
        entries.append(e if i else {"source_path": f"source/0000/{h}.mp4", **e})
    entries.append({"source_path": f"source/0000/{0:016x}.mp4", "instruction": "gone",
                    "edited_path": f"global_style1/0000/{0:016x}_5.mp4"})
    (root / "training_metadata").mkdir()
    (root / "training_metadata" / "global.json").write_text(json.dumps(entries))
    (root / "source_video_captions").mkdir()
    (root / "source_video_captions" / "source_video_captions_0000.json").write_text(json.dumps(caps))
    return root


def make_insvie_extracted(root: Path, t: dict[str, Path]) -> Path:
    make_insvie(root, t)
    extract_described(root, describe("insvie-1m"), progress=False)
    return root


# name -> (maker, rows loaded, categories, {defect: count} in the read summary, {refusal: count})
CASES = {
    "ditto-1m": (make_ditto, 2, {"global_style"}, {"missing_files": 1}, {}),
    "openve-3m": (make_openve, 4, {"global_style", "background_change"}, {}, {"shape_mismatch": 1}),
    "senorita-2m": (make_senorita, 4, {"obj_removal", "obj_swap"}, {"missing_files": 1}, {"shape_mismatch": 1}),
    "insvie-1m": (make_insvie_extracted, 3, {"insvie"}, {"missing_files": 1}, {}),
    "kiwi-refvie": (make_kiwi, 2, {"refvie"}, {}, {}),
    "reco-data": (make_reco, 2, {"replace", "style"}, {}, {}),
}


def test_every_shipped_description_has_a_test_layout():
    assert set(names()) == set(CASES)


@pytest.fixture(scope="module")
def built(tiny, tmp_path_factory):
    """name -> (dataset folder in the source's layout, converted folder, convert summary)."""
    out = {}
    for name, (maker, *_rest) in CASES.items():
        src = maker(tmp_path_factory.mktemp(name), tiny)
        dst = tmp_path_factory.mktemp(f"{name}-ours") / "out"
        out[name] = (src, dst, convert(src, dst, progress=False))
    return out


def negation_error(src: torch.Tensor, edt: torch.Tensor) -> float:
    return (edt.float() - (255 - src.float())).abs().mean().item()


@pytest.mark.parametrize("name", list(CASES))
def test_shipped_description_loads_with_the_unified_schema(name, built, caplog):
    src, _, _ = built[name]
    _, n_rows, cats, defects, _ = CASES[name]
    assert detect(src).name == name  # found from the metadata files alone
    with caplog.at_level(logging.WARNING):
        ds = ditto_data.load(src, "global" if name == "ditto-1m" else None, description=name)
    assert list(ds.features) == list(ROW_COLUMNS) and len(ds) == n_rows
    assert set(ds["category"]) == cats and set(ds["dataset"]) == {name}
    assert all(json.loads(o) for o in ds["original"])  # the source's own fields, kept
    import datasets

    raw = ds.cast_column("edited_video", datasets.Video(decode=False))["edited_video"]
    assert all(Path(v["path"]).is_absolute() and Path(v["path"]).is_file() for v in raw)
    if defects.get("missing_files"):
        assert any("missing" in r.getMessage() for r in caplog.records)  # reported, not silent


@pytest.mark.parametrize("name", list(CASES))
def test_convert_writes_our_layout_and_reports_defects(name, built, tmp_path):
    import datasets

    _, dst, summary = built[name]
    _, n_rows, cats, defects, refused = CASES[name]
    for k, v in defects.items():
        assert summary.read[k] == v, summary.read
    assert summary.refused == refused, summary.refused_examples
    assert sum(v for k, v in summary.counts.items() if k != "source") == n_rows - sum(refused.values())
    assert json.loads((dst / ".ditto" / "convert.json").read_text())["refused"] == refused
    for cat in summary.counts:
        if cat == "source":
            continue
        ds = datasets.load_dataset(str(dst), cat, split="train", cache_dir=str(tmp_path / "hf"))
        assert len(ds) == summary.counts[cat]
        row = ds[0]
        assert row["edited_video"].metadata.num_frames == row["source_video"].metadata.num_frames == N
        df = pd.read_csv(dst / "csvs_for_DiffSynth" / f"{cat}.csv")  # DiffSynth-Studio's reader
        assert list(df.columns) == ["video", "prompt", "vace_video"] and not df.isna().any().any()
        assert all((dst / "videos" / p).is_file() for p in [*df["video"], *df["vace_video"]])
    assert set(ditto_data.load(dst, next(c for c in summary.counts if c != "source"))["dataset"]) == {"ditto-1m"}
    assert "configs:" in (dst / "README.md").read_text()  # the card knows the converted configs


@pytest.mark.parametrize("name", ["openve-3m", "senorita-2m", "insvie-1m", "kiwi-refvie", "reco-data", "ditto-1m"])
def test_shipped_description_streams_aligned_clips(name, built):
    src, _, _ = built[name]
    ds = StreamingTripletDataset(src, "global" if name == "ditto-1m" else None, description=name, num_frames=5,
                                 seed=1, buffer_size=4)
    samples = list(ds)
    assert len(samples) == CASES[name][1] and ds.skipped == 0
    for s in samples:
        if s["edited"].shape == s["source"].shape:  # the mismatched edits are not negations of theirs
            assert negation_error(s["source"], s["edited"]) < 40


def test_known_path_fix_and_missing_rows_are_counted(built):
    d = Defects()
    _, desc, _, rows = read_rows(built["senorita-2m"][0], "obj_swap", defects=d)
    assert d.path_fixes == {"./obj_swap_videos/ -> ./obj_swap_upload/": 4} and not d.missing
    assert {r["source_path"].split("/")[0] for r in rows} == {"obj_swap_upload"}
    assert desc.name == "senorita-2m"


def test_openve_semicolon_csv_is_sniffed(built):
    assert sniff_delimiter("original_video;video;prompt\na;b;Put it, on the moon\n") == ";"
    ds = ditto_data.load(built["openve-3m"][0], "background_change")
    assert sorted(ds["instruction"]) == ["Put the scene on the moon", "Replace the background with a beach; keep the people"]


def test_kiwi_reference_image_and_parquet_rows(built):
    _, _, _, rows = read_rows(built["kiwi-refvie"][0])
    assert len(rows) == 2 and all(r["reference_image"] and Path(r["reference_image"]).is_file() for r in rows)
    assert {r["original"]["prompt"] for r in rows} == {"Add the hat from the reference image", "Replace the dog with a cat"}


# -- a dataset we do not know: the user's own description ----------------------------------------


def _unknown_layout(root: Path, t: dict[str, Path]) -> Path:
    write_csv(root / "pairs" / "edits.tsv", ["before", "after", "edit_text", "kind"],
              [[put(root, "clips/a/in.mp4", t["src0"]), put(root, "clips/a/out.mp4", t["edt0"]), "invert colours",
                "Color Shift"],
               [put(root, "clips/b/in.mp4", t["src1"]), put(root, "clips/b/out.mp4", t["edt1"]), "negate it",
                "Color Shift"]], delimiter="\t")
    return root


def test_user_description_yaml_and_python_object(tiny, tmp_path):
    root = _unknown_layout(tmp_path / "mine", tiny)
    yml = tmp_path / "mine.yaml"
    yml.write_text("name: my-edits\nmetadata: [pairs/*.tsv]\nformat: csv\n"
                   "fields: {source: before, edited: after, instruction: edit_text, category: kind}\n")
    ds = ditto_data.load(root, description=yml)
    assert len(ds) == 2 and set(ds["category"]) == {"color_shift"} and set(ds["dataset"]) == {"my-edits"}
    obj = Description(name="my-edits", metadata=("pairs/*.tsv",), category_from="constant", category="negate",
                      fields={"source": ["src", "before"], "edited": "after", "instruction": "edit_text"})
    clips = TripletClipDataset(root, description=obj, num_frames=5, start="start")
    s = clips[0]
    assert s["source"].shape == (5, 3, H, W) and negation_error(s["source"], s["edited"]) < 40
    summary = convert(root, tmp_path / "ours", description=obj, progress=False)
    assert summary.counts == {"negate": 2, "source": 2}


def test_description_that_does_not_match_names_the_field(tiny, tmp_path):
    root = _unknown_layout(tmp_path / "mine", tiny)
    bad = Description(name="wrong", metadata=("pairs/*.tsv",), category_from="constant", category="x",
                      fields={"source": ["source_video", "src"], "edited": "after", "instruction": "edit_text"})
    with pytest.raises(DescriptionError, match=r"fields\.source.*'source_video', 'src'.*before, edit_text"):
        ditto_data.load(root, description=bad)
    with pytest.raises(DescriptionError, match=r"field 'metadata'.*no file matches"):
        ditto_data.load(root, description=Description(name="w", metadata=("*.json",), category_from="constant",
                                                      category="x", fields=bad.fields))
    with pytest.raises(ditto_data.loaders.DatasetReadError, match=r"not a Ditto tree.*pass description=NAME"):
        ditto_data.load(root)  # nothing shipped recognises it: say so, and how to describe it
    (tmp_path / "typo.yaml").write_text("name: t\nmetadata: [a.csv]\nfeilds: {}\n")
    with pytest.raises(DescriptionError, match=r"field 'feilds': unknown field"):
        describe(tmp_path / "typo.yaml")
    with pytest.raises(DescriptionError, match=r"fields\.instruction.*required"):
        Description(name="x", metadata=("a",), fields={"source": "a", "edited": "b"}, category_from="constant",
                    category="c")


# -- archives: the same guarantees as the split-archive extraction --------------------------------


def test_zip_extraction_is_confined_atomic_and_resumable(tmp_path, tiny):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(tiny["src0"], "ok/clip.mp4")
        zf.writestr("../evil.txt", "x")
        zf.writestr("/abs.txt", "x")
        link = zipfile.ZipInfo("ok/link")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    target = tmp_path / "t"
    res = extract_zip(z, target, progress=False)
    assert (target / "ok/clip.mp4").read_bytes() == tiny["src0"].read_bytes()
    assert sorted(r.reason for r in res.refused) == ["absolute path", "path contains '..'", "symlink"]
    assert not (tmp_path / "evil.txt").exists() and not (target / "ok/link").exists()
    assert extract_zip(z, target, progress=False).status == "skipped"  # the marker
    assert not list(target.rglob("*.tmp-*"))
    broken = tmp_path / "b.zip"
    data = bytearray(z.read_bytes())
    data[60:400] = b"\0" * 340  # inside the first member's data
    broken.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="damaged ZIP"):
        extract_zip(broken, tmp_path / "u", progress=False)
    assert not (tmp_path / "u/ok/clip.mp4").exists()


def test_tar_gz_in_place_is_extracted_beside_it(tiny, tmp_path):
    root = make_senorita(tmp_path / "s", tiny, archives=True)
    assert not (root / "obj_swap_upload/12").exists()
    res = extract_described(root, describe("senorita-2m"), progress=False)
    assert sorted((r.name, r.status) for r in res) == [("12", "extracted"), ("60", "extracted")]
    assert (root / "obj_swap_upload/12").is_dir() and (root / ".ditto/extracted/obj_swap_upload/12.json").is_file()
    assert all(r.status == "skipped" for r in extract_described(root, describe("senorita-2m"), progress=False))
    assert len(ditto_data.load(root)) == 4


def test_a_damaged_archive_of_a_described_dataset_does_not_stop_the_others(tiny, tmp_path):
    root = make_senorita(tmp_path / "s", tiny, archives=True)
    first = root / "obj_removal_videos_upload" / "60.tar.gz"  # extracted first (sorted)
    first.write_bytes(first.read_bytes()[: first.stat().st_size // 2])
    with pytest.raises(ArchiveError, match="60.tar.gz") as e:
        extract_described(root, describe("senorita-2m"), progress=False)
    assert {a.name: a.status for a in e.value.report.archives} == {"60": "failed", "12": "extracted"}
    assert (root / "obj_swap_upload/12").is_dir() and (root / ".ditto/extracted/obj_swap_upload/12.json").is_file()
    assert not [p for p in root.rglob("*") if ".tmp-" in p.name]  # members before the cut are whole, or absent


# -- mixing datasets ---------------------------------------------------------------------------


def test_weighted_order_proportions_and_seed():
    rng = lambda: np.random.default_rng(3)  # noqa: E731
    order = weighted_order([1000, 1000], [3, 1], rng())
    first = sum(i < 1000 for i in order[:400])
    assert 270 < first < 330  # 3:1 while both last
    assert order == weighted_order([1000, 1000], [3, 1], rng()) and len(set(order)) == len(order)
    assert len(weighted_order([5, 100], [1, 1], rng())) < 105  # first_exhausted stops early
    assert sorted(weighted_order([5, 100], [1, 1], rng(), stop="all_exhausted")) == list(range(105))
    with pytest.raises(ValueError, match="one weight per dataset"):
        weighted_order([1, 2], [1], rng())


def test_mixture_streams_several_datasets_by_weight(built):
    mix = StreamingTripletDataset.mixture([built["openve-3m"][0], built["senorita-2m"][0]], [1, 1],
                                          stop="all_exhausted", num_frames=5, seed=2, buffer_size=1)
    seen = [s["dataset"] for s in mix]
    assert sorted(seen) == ["openve-3m"] * 4 + ["senorita-2m"] * 4
    again = StreamingTripletDataset.mixture([built["openve-3m"][0], built["senorita-2m"][0]], [1, 1],
                                            stop="all_exhausted", num_frames=5, seed=2, buffer_size=1)
    assert [s["dataset"] for s in again] == seen


# -- the Hub: selective download through olah ----------------------------------------------------

SCRIPT = """
import json, sys, ditto_data
ds = ditto_data.load(sys.argv[1], "obj_swap", cache_dir=sys.argv[2])
print(json.dumps([{"instruction": r["instruction"], "frames": len(r["edited_video"])} for r in ds]))
"""


def test_load_senorita_by_repo_id_fetches_only_the_config_and_extracts_in_place(tiny, tmp_path):
    pytest.importorskip("olah")
    from hub_servers import Olah, git_repo_from_tree

    tree = make_senorita(tmp_path / "tree", tiny, archives=True)
    git_repo_from_tree(tree, tmp_path / "mirrors" / "datasets" / "SENORITADATASET" / "Senorita")
    local = tmp_path / "local"
    with Olah(tmp_path / "mirrors", tmp_path / "olah") as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_ENDPOINT": server.endpoint, "HF_HUB_DISABLE_XET": "1",
               "HF_HOME": str(tmp_path / "hf_home")}
        r = subprocess.run([sys.executable, "-c", SCRIPT, "SENORITADATASET/Senorita", str(local)], env=env,
                           capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    assert sorted(x["instruction"] for x in rows) == ["swap the bike", "swap the car for a bus"]
    assert all(x["frames"] == N for x in rows)
    assert (local / "obj_swap_upload/12").is_dir()  # extracted in place
    assert not (local / "obj_removal_videos_upload").exists()  # the other task was never fetched


def test_cli_convert_prints_the_summary_and_writes_webdataset(built, tmp_path, capsys):
    from ditto_data.cli import main

    src = built["senorita-2m"][0]
    assert main(["convert", str(src), "--to", str(tmp_path / "out"), "--webdataset", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "missing video file" in text and "refused: shape_mismatch" in text and "obj_swap_videos" in text
    shards = sorted((tmp_path / "out" / "webdataset" / "obj_removal").glob("*.tar"))
    assert shards and len(list(StreamingTripletDataset(shards, num_frames=5))) == 2
    assert main(["convert", str(src), "--to", str(tmp_path / "o2"), "--description", "openve-3m"]) == 2
