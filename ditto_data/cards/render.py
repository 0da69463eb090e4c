"""Render the dataset card (README.md) from the dataset on disk and the build's records.

The numbers come from the published HF metadata (rows, frame counts, fps, sizes) and from the
records (rejections, provenance), never from timings or absolute paths, so an interrupted and
resumed build renders the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from .. import atomic, layout
from ..dataset.configs import hf_configs
from ..dataset.shards import current_hub_shards
from ..dataset.features import EDIT_COLUMNS, SOURCE_COLUMNS
from ..schema import CATEGORIES, CLIP, EDIT, INPUT, SIM2REAL, SOURCE, Record, ordered_categories

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).with_name("template.md")
TITLE = "Ditto-style instruction-based video editing dataset"
DEFAULT_REPO_ID = "ORG/DATASET"
LOCAL_DIR = "ditto-dataset"
LICENSE_NAME = "same-as-source-videos"
LICENSE_LINK = "LICENSE.md"  # written beside the card when the license is ``other``
TEASER_PAIRS = 6
EXAMPLES_PER_CATEGORY = 5
SIZE_BOUNDS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
               (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]  # fmt: skip


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket of ``n`` rows."""
    for bound, name in SIZE_BOUNDS:
        if n < bound:
            return name
    return "100M<n<1B"


@dataclass
class DatasetFacts:
    """What the card says, read from disk."""

    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> source metadata row
    edits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # category -> rows sorted by id
    shard_size: int = layout.SHARD_SIZE
    sim2real: int = 0  # reversed global_style rows (config ``sim2real``)

    def counts(self) -> dict[str, int]:
        out = {c: len(self.edits[c]) for c in ordered_categories(self.edits) if self.edits.get(c)}
        if self.sim2real:
            out[SIM2REAL] = self.sim2real
        if self.sources:
            out[SOURCE] = len(self.sources)
        return out


def dataset_facts(root: str | Path) -> DatasetFacts:
    """What the card says of the dataset at ``root``: its published HF metadata rows and shard size."""
    import pyarrow.parquet as pq

    facts = DatasetFacts()
    src = layout.hf_metadata_path(root, SOURCE)
    if src.is_file():
        facts.sources = {r["id"]: r for r in pq.read_table(src).to_pylist()}
    ed = layout.hf_metadata_path(root, CATEGORIES[0])
    if ed.is_file():
        for r in sorted(pq.read_table(ed).to_pylist(), key=lambda r: r["id"]):
            if r["category"] == SIM2REAL:
                facts.sim2real += 1
                continue
            facts.edits.setdefault(r["category"], []).append(r)
        facts.edits = {c: facts.edits[c] for c in ordered_categories(facts.edits)}
    cfg = layout.state_dir(root) / "config.json"
    if cfg.is_file():
        try:
            facts.shard_size = int(json.loads(cfg.read_text())["export"]["shard_size"])
        except (ValueError, KeyError, TypeError):
            pass
    return facts


def load_records(root: str | Path) -> list[Record] | None:
    """The build's final records (``.ditto/records.json``), or None for a dataset built elsewhere."""
    p = layout.state_dir(root) / "records.json"
    if not p.is_file():
        return None
    return [Record.from_dict(d) for d in json.loads(p.read_text())]


# -- sections ---------------------------------------------------------------------------------


def _md(text: Any) -> str:
    """Text safe inside a markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _span(values: list[float], fmt: str = "{:g}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}-{fmt.format(hi)}"


def _stats_row(name: str, rows: int, sources: list[dict[str, Any]]) -> str:
    secs = [s["num_frames"] / s["fps"] if s["fps"] else 0.0 for s in sources]
    res = Counter(f"{s['width']}x{s['height']}" for s in sources)
    res_text = ", ".join(f"{k} ({v})" for k, v in sorted(res.items(), key=lambda kv: (-kv[1], kv[0])))
    fps = _span([round(s["fps"], 3) for s in sources])
    frames = _span([s["num_frames"] for s in sources])
    n_src = len({s["id"] for s in sources})
    return (f"| `{name}` | {rows} | {n_src} | {_duration(sum(secs))} | {_duration(sum(secs) / len(secs))} "
            f"| {frames} | {fps} | {res_text} |")


def stats_table(facts: DatasetFacts) -> str:
    lines = []
    for cat, rows in facts.edits.items():
        lines.append(_stats_row(cat, len(rows), [facts.sources[r["source_id"]] for r in rows]))
    if facts.sources:
        lines.append(_stats_row(SOURCE, len(facts.sources), list(facts.sources.values())))
    return "\n".join(lines) or "| (empty) | 0 | 0 | - | - | - | - | - |"


def _spread(rows: list, k: int) -> list:
    """Up to ``k`` rows evenly spread over ``rows`` (deterministic)."""
    if len(rows) <= k:
        return list(rows)
    return [rows[i * len(rows) // k] for i in range(k)]


def examples(facts: DatasetFacts) -> str:
    if not facts.edits:
        return "No triplets were published."
    out = []
    for cat, rows in facts.edits.items():
        out.append(f"**{cat}**\n")
        out.extend(f"- `{r['id']}`: {json.dumps(r['instruction'], ensure_ascii=False)}"
                   for r in _spread(rows, EXAMPLES_PER_CATEGORY))
        out.append("")
    return "\n".join(out).rstrip()


def funnel_table(records: list[Record] | None, facts: DatasetFacts) -> str:
    if records is None:
        return "| records | unknown | unknown | unknown |"
    made = Counter(r.kind for r in records)
    rejected = Counter(r.kind for r in records if not r.ok)
    # an input that standardize turned into clips is not a record of its own any more: count it
    # through its clips' lineage
    made[INPUT] = len({r.id for r in records if r.kind == INPUT}
                      | {r.parent_id for r in records if r.kind == CLIP and r.parent_id})
    published = {INPUT: "-", CLIP: str(len(facts.sources)), EDIT: str(sum(len(v) for v in facts.edits.values()))}
    kinds = (INPUT, CLIP, EDIT)
    return "\n".join([
        "| total | " + " | ".join(str(made[k]) for k in kinds) + " |",
        "| rejected | " + " | ".join(str(rejected[k]) for k in kinds) + " |",
        "| published | " + " | ".join(published[k] for k in kinds) + " |",
    ])  # fmt: skip


def _input_paths(records: list[Record]) -> list[tuple[str, str]]:
    """(absolute path, relative path) of inputs, longest first: messages name files by their path."""
    pairs = {(str(r.fields["path"]), str(r.fields["relpath"])) for r in records
             if r.kind == INPUT and r.fields.get("path") and r.fields.get("relpath")}
    return sorted(pairs, key=lambda p: -len(p[0]))


NEAR_DUPLICATE_ROWS = 50  # near-duplicate rejections listed one by one in the card


def rejections(records: list[Record] | None) -> str:
    if records is None:
        return "No build records (`.ditto/records.json`) were found: rejection statistics are unknown."
    rejected = sorted((r for r in records if not r.ok), key=lambda r: r.id)
    if not rejected:
        return "No record was rejected."
    paths = _input_paths(records)
    groups: dict[tuple[str, str, str], list[Record]] = {}
    for r in rejected:
        groups.setdefault((r.rejected_by or "", r.reason or "", r.kind), []).append(r)
    lines = ["| stage | reason | kind | records | example |", "|---|---|---|---:|---|"]
    for (stage, reason, kind), rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        msg = rs[0].message or ""
        for absolute, rel in paths:  # a card is published: name inputs by their relative path
            msg = msg.replace(absolute, rel)
        msg = _md(msg)
        msg = msg if len(msg) <= 140 else msg[:137] + "..."
        lines.append(f"| {_md(stage)} | `{_md(reason)}` | {kind} | {len(rs)} | {msg} |")
    dups = [r for r in rejected if r.reason == "near_duplicate" and r.fields.get("duplicate_of")]
    if dups:
        lines += ["", f"Near-duplicates: each rejected clip, the kept clip it duplicates, the score and the evidence"
                  f"{f' (first {NEAR_DUPLICATE_ROWS} of {len(dups)})' if len(dups) > NEAR_DUPLICATE_ROWS else ''}:",
                  "", "| clip | duplicate of | score | evidence |", "|---|---|---:|---|"]
        for r in dups[:NEAR_DUPLICATE_ROWS]:
            score = r.fields.get("dedup_score")
            evidence = str(r.fields.get("dedup_evidence") or r.message or "")
            for absolute, rel in paths:
                evidence = evidence.replace(absolute, rel)
            lines.append(f"| {_md(r.id)} | {_md(r.fields['duplicate_of'])} | "
                         f"{'-' if score is None else f'{float(score):.3f}'} | {_md(evidence)} |")
    return "\n".join(lines)


def provenance(records: list[Record] | None, facts: DatasetFacts) -> str:
    if records is None:
        return "No build records (`.ditto/records.json`) were found: provenance is unknown."
    published = set(facts.sources) | {r["id"] for rows in facts.edits.values() for r in rows}
    seen: Counter = Counter()
    for r in records:
        if r.id in published and r.ok:
            for p in r.provenance.values():
                seen[(p.get("stage") or "", p.get("backend") or "", p.get("model") or "-",
                      p.get("revision") or "-")] += 1
    if not seen:
        return "The records carry no provenance."
    from ..builders.config import DEFAULT_PIPELINE

    order = {n: i for i, n in enumerate(DEFAULT_PIPELINE)}
    lines = ["| stage | backend | model | revision | artifacts |", "|---|---|---|---|---:|"]
    for (stage, backend, model, rev), n in sorted(seen.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0])):
        lines.append(f"| {_md(stage)} | `{_md(backend)}` | {_md(model)} | {_md(rev)} | {n} |")
    return "\n".join(lines)


def license_text(license: str) -> str:
    if license == "other":
        return ("`other`: this dataset derives from the input videos of whoever built it, and its license is "
                "theirs to state. Set `export.license` in the build config (or run "
                "`ditto-data card OUT --license ID`) to the license those videos allow before publishing. "
                "Triplets generated with model backends are also subject to those models' licenses.")
    return (f"`{license}`, as set by whoever built it; the source videos' own licenses and those of the models "
            "that generated the edits apply as well.")


# -- teaser -----------------------------------------------------------------------------------


def teaser_pairs(root: Path, facts: DatasetFacts, records: list[Record] | None) -> list[tuple[dict, int]]:
    """Up to ``TEASER_PAIRS`` triplet rows, spread over categories, with the frame to show."""
    keyframe = {r.id: int(r.fields.get("keyframe_index") or 0) for r in records or [] if r.kind == EDIT}
    chosen: list[dict] = []
    per_cat = {c: _spread(rows, TEASER_PAIRS) for c, rows in facts.edits.items()}
    while len(chosen) < TEASER_PAIRS and any(per_cat.values()):
        for c in list(per_cat):
            if per_cat[c] and len(chosen) < TEASER_PAIRS:
                chosen.append(per_cat[c].pop(0))
    return [(r, keyframe.get(r["id"], 0)) for r in chosen]


def write_teaser(root: Path, facts: DatasetFacts, records: list[Record] | None) -> list[dict]:
    """Write ``assets/teaser.png`` (or remove a stale one); returns the rows it shows."""
    from .teaser import make_teaser

    path = layout.teaser_path(root)
    pairs = teaser_pairs(root, facts, records)
    if not pairs:
        path.unlink(missing_ok=True)
        return []
    videos = [(layout.video_path(root, r["source_path"]), layout.video_path(root, r["edited_path"]), i)
              for r, i in pairs]
    atomic.write_bytes(path, make_teaser(videos))
    return [r for r, _ in pairs]


def _teaser_section(shown: list[dict]) -> str:
    if not shown:
        return ""
    lines = [f"![source and edited keyframes]({layout.TEASER})", "",
             "Each pair: source keyframe (left), edited (right); left to right, top to bottom:", ""]
    lines.extend(f"{i}. `{r['category']}` `{r['id']}`: {json.dumps(r['instruction'], ensure_ascii=False)}"
                 for i, r in enumerate(shown, 1))
    return "\n".join(lines)


def write_charts(root: Path, records: list[Record] | None) -> bool:
    """Write the funnel and score-histogram PNGs (or remove stale ones); whether there are any."""
    from .charts import chart_data, funnel_png, histograms_png

    data = chart_data(root, [r.to_dict() for r in records] if records is not None else None)
    charts = ((layout.FUNNEL_CHART, funnel_png, "funnel"), (layout.SCORES_CHART, histograms_png, "histograms"))
    for rel, draw, part in charts:
        path = root / rel
        if data and data[part]:
            atomic.write_bytes(path, draw(data[part]))
        else:
            path.unlink(missing_ok=True)
    return bool(data and data["funnel"])


def _charts_section(root: Path) -> str:
    lines = []
    if (root / layout.FUNNEL_CHART).is_file():
        lines += [f"![records each stage received: passed and rejected]({layout.FUNNEL_CHART})", ""]
    if (root / layout.SCORES_CHART).is_file():
        lines += [f"![score histograms: passed, rejected for the score, rejected otherwise; dashed: the threshold]"
                  f"({layout.SCORES_CHART})", ""]
    if not lines:
        return "No build records (`.ditto/records.json`) were found: no charts."
    return "\n".join(lines + ["Browse the rows, rejections and these charts with `ditto-data view OUT`."])


# -- the card ---------------------------------------------------------------------------------


def card_metadata(facts: DatasetFacts, license: str = "other",
                  shards: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The YAML header: license, task, size, tags and a ``configs`` entry per config with rows.

    ``shards``: the configs' WebDataset shards for the Hub (``ditto-data pack``), which their
    ``configs`` entries then read. A license ``other`` gets the ``license_name`` and the
    ``license_link`` (to the card's License section) the Hub asks for.
    """
    counts = facts.counts()
    n_rows = sum(v for k, v in counts.items() if k not in (SOURCE, SIM2REAL)) or counts.get(SOURCE, 0)
    meta: dict[str, Any] = {"license": license}
    if license == "other":
        meta["license_name"] = LICENSE_NAME
        meta["license_link"] = LICENSE_LINK
    meta.update({
        "task_categories": ["video-to-video"],
        "size_categories": [size_category(n_rows)],
        "tags": ["video-editing", "instruction-based-editing", "ditto", "synthetic", "video"],
        "pretty_name": TITLE,
        "configs": hf_configs(counts, shards),
    })  # fmt: skip
    return meta


def render_card(out_dir: str | Path, records: list[Record] | None = None, license: str = "other",
                repo_id: str = DEFAULT_REPO_ID, teaser_rows: list[dict] | None = None) -> str:
    """The card's markdown for the dataset at ``out_dir`` (records default to ``.ditto/records.json``)."""
    from huggingface_hub import DatasetCardData

    root = Path(out_dir)
    records = load_records(root) if records is None else records
    facts = dataset_facts(root)
    if teaser_rows is None and layout.teaser_path(root).is_file():
        teaser_rows = [r for r, _ in teaser_pairs(root, facts, records)]
    meta = card_metadata(facts, license, current_hub_shards(root))
    configs = [c["config_name"] for c in meta["configs"]]
    default = next((c["config_name"] for c in meta["configs"] if c.get("default")), None)
    first_cat = default if default in facts.edits else CATEGORIES[1]
    keep_ref = _keeps_reference(root)
    values = {
        "yaml": DatasetCardData(**meta).to_yaml(),
        "title": TITLE,
        "n_sources": len(facts.sources),
        "teaser": _teaser_section(teaser_rows or []),
        "stats_table": stats_table(facts),
        "shard_size": facts.shard_size,
        "csv_extra": ",vace_reference_image" if keep_ref else "",
        "csv_extra_keys": ",vace_reference_image" if keep_ref else "",
        "repo_id": repo_id,
        "local_dir": LOCAL_DIR,
        "first_category": first_cat,
        "first_config": default or first_cat,
        "config_list": ", ".join(f"`{c}` (rows: {facts.counts()[c]})" for c in configs) or "none",
        "edit_columns": ", ".join(f"`{c}`" for c in EDIT_COLUMNS),
        "source_columns": ", ".join(f"`{c}`" for c in SOURCE_COLUMNS),
        "examples": examples(facts),
        "funnel_table": funnel_table(records, facts),
        "rejections": rejections(records),
        "charts": _charts_section(root),
        "provenance": provenance(records, facts),
        "license_text": license_text(license),
    }
    return Template(TEMPLATE.read_text()).substitute(values)


def _keeps_reference(root: Path) -> bool:
    for csv_path in sorted((root / layout.DIFFSYNTH).glob("*.csv")):
        with open(csv_path, encoding="utf-8") as f:
            return "vace_reference_image" in f.readline()
    return False


def configured_license(root: str | Path) -> str:
    """``export.license`` of the build's config (``.ditto/config.json``), else ``other``."""
    p = layout.state_dir(root) / "config.json"
    try:
        return str(json.loads(p.read_text())["export"]["license"])
    except (OSError, ValueError, KeyError, TypeError):
        return "other"


def write_card(out_dir: str | Path, records: list[Record] | None = None, license: str | None = None,
               repo_id: str = DEFAULT_REPO_ID) -> Path:
    """Render the teaser and README.md of the dataset at ``out_dir``; returns the README path.

    ``license`` defaults to the build config's ``export.license``.
    """
    root = Path(out_dir)
    license = license or configured_license(root)
    records = load_records(root) if records is None else records
    shown = write_teaser(root, dataset_facts(root), records)
    write_charts(root, records)
    path = root / layout.CARD
    atomic.write_text(path, render_card(root, records, license, repo_id, teaser_rows=shown))
    write_license_file(root, license)
    return path


def write_license_file(root: Path, license: str) -> None:
    """``LICENSE.md``, the card's ``license_link`` target, when the license is ``other`` (else removed)."""
    p = root / LICENSE_LINK
    if license != "other":
        p.unlink(missing_ok=True)
        return
    atomic.write_text(p, f"# License\n\n{license_text(license)}\n")


def refresh_configs(out_dir: str | Path) -> Path | None:
    """Point the card's ``configs`` at the data files as they are now (e.g. after ``ditto-data pack``
    wrote the Hub shards), leaving the rest of the card (license, prose) as it is."""
    from huggingface_hub import DatasetCard

    root = Path(out_dir)
    path = root / layout.CARD
    if not path.is_file():
        log.warning("%s: no dataset card to update (write one with `ditto-data card`)", path)
        return None
    card = DatasetCard.load(path)
    card.data.configs = hf_configs(dataset_facts(root).counts(), current_hub_shards(root))
    atomic.write_text(path, str(card))
    return path
