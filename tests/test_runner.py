"""The runner's contract: ledger resume, fingerprints chained per stage, bad configs named."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from ditto_data.builders.batching import group_outputs
from ditto_data.builders.config import ConfigError, load_config
from ditto_data.builders.ledger import Ledger
from ditto_data.builders.runner import LocalExecutor, run_stage
from ditto_data.builders.stage import Stage, StageConfig, StageContext, fingerprint, register_stage
from ditto_data.schema import CLIP, INPUT, Record

CALLS: list[str] = []


@dataclass
class _SplitConfig(StageConfig):
    parts: int = 2


@register_stage
class _Split(Stage):
    """Test stage: an input becomes ``parts`` children; inputs whose name has 'bad' are rejected."""

    name = "_test_split"
    kinds = (INPUT,)
    batch_size = 2
    Config = _SplitConfig

    def process(self, batch):
        out = []
        for r in batch:
            CALLS.append(r.id)
            if "bad" in r.id:
                out.append(r.reject(self.name, "bad_input", f"{r.id} is bad"))
                continue
            out.extend(r.child(f"{r.id}c{i}", CLIP) for i in range(self.config.parts))
        return out


def _ctx(tmp_path, cfg, upstream="inputs"):
    fp = fingerprint(_Split, cfg, upstream, 0)
    return StageContext(out_dir=tmp_path, work_dir=tmp_path / "w", fingerprint=fp, config_hash="x")


def test_run_stage_resumes_from_ledger_and_reruns_on_config_change(tmp_path):
    records = [Record(id=i, kind=INPUT) for i in ("a", "b", "bad", "d", "e")]
    cfg = _SplitConfig()
    CALLS.clear()
    out, stats = run_stage(_Split, cfg, _ctx(tmp_path, cfg), records, LocalExecutor(2), Ledger(tmp_path), False)
    assert sorted(CALLS) == ["a", "b", "bad", "d", "e"]
    assert [r.id for r in out if r.ok] == ["ac0", "ac1", "bc0", "bc1", "dc0", "dc1", "ec0", "ec1"]
    assert [r.reason for r in out if not r.ok] == ["bad_input"]
    assert stats.processed == 5 and stats.rejected == 1

    CALLS.clear()  # same config: everything comes from the ledger, in the same order
    again, stats = run_stage(_Split, cfg, _ctx(tmp_path, cfg), records, LocalExecutor(2), Ledger(tmp_path), False)
    assert CALLS == [] and stats.reused == 5
    assert [r.to_dict() for r in again] == [r.to_dict() for r in out]

    CALLS.clear()  # new config: a new fingerprint, so the stage runs again
    cfg3 = _SplitConfig(parts=3)
    out3, _ = run_stage(_Split, cfg3, _ctx(tmp_path, cfg3), records, LocalExecutor(2), Ledger(tmp_path), False)
    assert sorted(CALLS) == ["a", "b", "bad", "d", "e"] and len([r for r in out3 if r.ok]) == 12


SETUPS: list[str] = []


@register_stage
class _Slow(Stage):
    """Test stage: one record a batch, a slow setup() counted, so threads would race to call it twice."""

    name = "_test_slow_setup"
    kinds = (INPUT,)

    def setup(self):
        time.sleep(0.2)
        SETUPS.append(threading.current_thread().name)

    def process_record(self, r):
        r.fields["setups"] = len(SETUPS)


@register_stage
class _Count(Stage):
    """Test global stage: one call over every record; numbers them in input order."""

    name = "_test_count"
    kinds = (INPUT,)
    is_global = True

    def process(self, batch):
        CALLS.append(",".join(r.id for r in batch))
        for i, r in enumerate(batch):
            r.fields["n"] = i
        return batch


def test_local_executor_shares_one_setup_between_its_threads(tmp_path):
    records = [Record(id=f"r{i}", kind=INPUT) for i in range(8)]
    SETUPS.clear()
    ctx = StageContext(out_dir=tmp_path, work_dir=tmp_path / "w", fingerprint="fp", config_hash="x")
    out, stats = run_stage(_Slow, StageConfig(), ctx, records, LocalExecutor(4), Ledger(tmp_path), False)
    assert len(SETUPS) == 1 and stats.processed == 8
    assert [r.id for r in out] == [r.id for r in records] and {r.fields["setups"] for r in out} == {1}
    assert not any(r.fields for r in records)  # the caller's records are left as they were


def test_a_global_stage_gets_every_record_in_one_call_and_resumes_from_the_ledger(tmp_path):
    records = [Record(id=i, kind=INPUT) for i in ("c", "a", "b")] + [Record(id="x", kind=CLIP)]
    ctx = StageContext(out_dir=tmp_path, work_dir=tmp_path / "w", fingerprint="fp", config_hash="x")
    CALLS.clear()
    out, stats = run_stage(_Count, StageConfig(), ctx, records, LocalExecutor(4), Ledger(tmp_path), False)
    assert CALLS == ["c,a,b"] and (stats.processed, stats.reused) == (3, 0)
    assert [(r.id, r.fields.get("n")) for r in out] == [("c", 0), ("a", 1), ("b", 2), ("x", None)]
    CALLS.clear()
    again, stats = run_stage(_Count, StageConfig(), ctx, records, LocalExecutor(4), Ledger(tmp_path), False)
    assert CALLS == [] and (stats.processed, stats.reused) == (0, 3)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in out]


def test_fingerprint_chains_upstream():
    a = fingerprint(_Split, _SplitConfig(), "up1", 0)
    assert a == fingerprint(_Split, _SplitConfig(), "up1", 0)
    assert a != fingerprint(_Split, _SplitConfig(), "up2", 0)
    assert a != fingerprint(_Split, _SplitConfig(parts=3), "up1", 0)
    assert a != fingerprint(_Split, _SplitConfig(), "up1", 1)


def test_group_outputs_refuses_dropped_and_foreign_records():
    ins = [Record(id="a", kind=INPUT), Record(id="b", kind=INPUT)]
    with pytest.raises(RuntimeError, match="dropped"):
        group_outputs(ins, [ins[0]], "s")
    with pytest.raises(RuntimeError, match="belongs to no input"):
        group_outputs(ins, ins + [Record(id="z", kind=CLIP, parent_id="q")], "s")


def test_ledger_part_is_atomic_and_idempotent(tmp_path):
    led = Ledger(tmp_path)
    res = {"a": [Record(id="a", kind=INPUT, fields={"x": 1.5})]}
    led.append("s", "fp", res)
    led.append("s", "fp", res)
    parts = list((tmp_path / ".ditto" / "ledger" / "s" / "fp").iterdir())
    assert len(parts) == 1 and parts[0].name.startswith("part-")
    assert led.load("s", "fp")["a"][0].fields == {"x": 1.5}


@pytest.mark.parametrize(
    "raw, field",
    [
        ({"seeed": 1}, "seeed"),
        ({"workers": "two"}, "workers"),
        ({"executor": "slurm"}, "executor"),
        ({"pipeline": ["_test_split", "nope"]}, "pipeline"),
        ({"stages": {"nope": {}}}, "stages.nope"),
        ({"stages": {"_test_split": {"parts": "3"}}}, "stages._test_split.parts"),
        ({"stages": {"_test_split": {"partz": 3}}}, "stages._test_split.partz"),
        ({"stages": {"_test_split": 7}}, "stages._test_split"),
    ],
)
def test_bad_config_names_the_field(raw, field):
    raw = {"pipeline": ["_test_split"], **raw}
    with pytest.raises(ConfigError) as e:
        load_config(raw)
    assert e.value.field == field and field in str(e.value)


def test_config_from_yaml_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("seed: 3\npipeline: [_test_split]\nstages:\n  _test_split: {parts: 4}\n")
    cfg = load_config(p)
    assert cfg.seed == 3 and cfg.stage_config("_test_split").parts == 4
    p.write_text("seed: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


@register_stage
class _RejectWithTuple(Stage):
    """Test stage: rejects every input in place, with a field JSON gives back as a list."""

    name = "_test_reject_tuple"
    kinds = (INPUT,)

    def process_record(self, r):
        r.reject(self.name, "odd", f"{r.id} is odd", span=(0.0, 5.0))


def test_a_record_rejected_in_place_leaves_the_stage_as_the_ledger_gives_it(tmp_path):
    # the stage changes its input records in place; what leaves it must still be the ledger's copy
    # (read back through JSON), so a fresh run and a resumed one hand on the same records
    records = [Record(id=i, kind=INPUT) for i in ("a", "b")]
    cfg = StageConfig()
    ctx = StageContext(out_dir=tmp_path, work_dir=tmp_path / "w",
                       fingerprint=fingerprint(_RejectWithTuple, cfg, "inputs", 0), config_hash="x")
    fresh, _ = run_stage(_RejectWithTuple, cfg, ctx, records, LocalExecutor(1), Ledger(tmp_path), False)
    resumed, stats = run_stage(_RejectWithTuple, cfg, ctx, records, LocalExecutor(1), Ledger(tmp_path), False)
    assert stats.reused == 2 and [r.fields["span"] for r in resumed] == [[0.0, 5.0]] * 2
    assert [r.to_dict() for r in fresh] == [r.to_dict() for r in resumed]
    assert all(r.ok for r in records)  # the caller's records are as they were
