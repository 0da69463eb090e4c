"""The dataset card: rendered from the real dataset, valid for the Hub offline, with its teaser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from export_fixtures import INSTRUCTIONS, make_media, make_records
from PIL import Image

from ditto_data import atomic, layout
from ditto_data.builders.config import ExportConfig
from ditto_data.cards import CardError, card_problems, render_card, validate_card
from ditto_data.cards.render import size_category
from ditto_data.cards.teaser import CELL, PAD
from ditto_data.exports import export_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dataset(media_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("card")
    media = make_media(media_dir, tmp / "media")
    out = tmp / "OUT"
    records = make_records(out, media, Path("/home/someone/raw videos"))
    export_dataset(out, records, ExportConfig(), progress=False)
    # what the runner does after export
    atomic.write_json(layout.state_dir(out) / "records.json", [r.to_dict() for r in records])
    return out, records


def _front_matter(text: str) -> dict:
    import yaml

    return yaml.safe_load(text.split("---\n")[1])


def test_card_header_is_valid_and_has_every_config(dataset):
    out, _ = dataset
    validate_card(out / "README.md")
    meta = _front_matter((out / "README.md").read_text())
    assert meta["license"] == "other" and meta["license_name"]
    assert meta["license_link"] == "LICENSE.md" and "export.license" in (out / "LICENSE.md").read_text()
    assert meta["task_categories"] == ["video-to-video"] and meta["size_categories"] == ["n<1K"]
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert set(configs) == {"global_style", "local", "sim2real", "source"}
    assert configs["global_style"].get("default") is True  # the config with the most triplets


def test_card_prose_has_the_real_numbers_rejections_and_provenance(dataset):
    out, records = dataset
    text = (out / "README.md").read_text()
    assert "| `global_style` | 3 | 2 | 6.1 s | 2.0 s | 41 | 20 | 320x176 (3) |" in text
    assert "| `local` | 1 | 1 |" in text and "| `source` | 2 | 2 |" in text
    assert json.dumps(INSTRUCTIONS[0]) in text  # instruction examples, quoted
    for reason, n in (("too_short", 1), ("near_duplicate", 1), ("low_quality", 1), ("shape_mismatch", 1)):
        assert f"`{reason}` |" in text and f"| {n} |" in text, reason
    rows = [line for line in text.splitlines() if "`too_short`" in line]
    assert rows and "short.mp4" in rows[0] and "/home/someone" not in text  # inputs named by relative path
    assert "| caption | `qwen2.5-vl` | Qwen/Qwen2.5-VL-7B-Instruct |" in text
    assert "| total | 3 | 3 | 6 |" in text and "| published | - | 2 | 4 |" in text
    assert "arXiv:2510.15742" in text and 'load_dataset("ditto-dataset", "global_style"' in text


def test_teaser_is_a_grid_of_real_frames_linked_from_the_card(dataset):
    out, _ = dataset
    assert f"![source and edited keyframes]({layout.TEASER})" in (out / "README.md").read_text()
    img = Image.open(layout.teaser_path(out))
    n_pairs = 4  # four published triplets, two pairs per row
    assert img.size == (4 * (CELL[0] + PAD) + PAD, 2 * (CELL[1] + PAD) + PAD)
    import numpy as np

    px = np.asarray(img.convert("RGB")).astype(int)
    src = px[PAD:PAD + CELL[1], PAD:PAD + CELL[0]]
    edited = px[PAD:PAD + CELL[1], 2 * PAD + CELL[0]:2 * PAD + 2 * CELL[0]]
    assert src.std() > 10 and edited.std() > 10 and np.abs(src - edited).mean() > 5  # real, different frames
    assert n_pairs == sum(1 for line in (out / "README.md").read_text().splitlines() if line[:3] in ("1. ", "2. ", "3. ", "4. "))


def test_cli_card_rerenders_the_same_bytes_and_sets_the_license(dataset):
    out, _ = dataset
    before = (out / "README.md").read_bytes()
    teaser = layout.teaser_path(out).read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "ditto_data.cli", "card", str(out)]
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    assert (out / "README.md").read_bytes() == before and layout.teaser_path(out).read_bytes() == teaser
    r = subprocess.run(cmd + ["--license", "cc-by-4.0"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    meta = _front_matter((out / "README.md").read_text())
    assert meta["license"] == "cc-by-4.0" and "license_name" not in meta and not (out / "LICENSE.md").exists()
    licensed = (out / "README.md").read_bytes()
    r = subprocess.run(cmd + ["--license", "not-a-license"], env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "not a Hub license id" in r.stderr and len(r.stderr.splitlines()) == 1
    assert (out / "README.md").read_bytes() == licensed  # refused before anything was written
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    assert (out / "README.md").read_bytes() == before


def test_render_without_records_says_so(dataset, tmp_path):
    out, _ = dataset
    text = render_card(out, records=[])
    assert "No record was rejected." in text


def test_validator_names_what_is_wrong(dataset, tmp_path):
    out, _ = dataset
    text = (out / "README.md").read_text()
    bad = tmp_path / "README.md"
    bad.write_text(text.replace("size_categories:\n- n<1K", "size_categories:\n- tiny")
                   .replace("videos/source/metadata.parquet", "videos/source/nope.parquet"))
    problems = card_problems(bad)
    assert any("size_categories: 'tiny'" in p for p in problems)
    assert any("configs[source]" in p and "nope.parquet" in p for p in problems)
    bad.write_text("---\nlicense: [unclosed\n---\n# x\n")
    with pytest.raises(CardError, match="YAML"):
        validate_card(bad)


@pytest.mark.parametrize("n,expected", [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (250_000, "100K<n<1M"),
                                        (1_000_000, "1M<n<10M")])
def test_size_category(n, expected):
    assert size_category(n) == expected


def test_funnel_counts_inputs_that_became_clips(dataset):
    """A build's final records hold no record for an input standardize turned into clips: count it by lineage."""
    from ditto_data.cards.render import funnel_table, dataset_facts
    from ditto_data.schema import INPUT

    out, records = dataset
    without_inputs = [r for r in records if r.kind != INPUT or not r.ok]  # what the runner hands over
    table = funnel_table(without_inputs, dataset_facts(out))
    assert table.splitlines()[0] == "| total | 3 | 3 | 6 |"  # two inputs with clips, one rejected
