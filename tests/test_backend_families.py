"""The backend families: every stage's backends are of its family, and a backend of another kind (a
user's plugin named in a stage's table) is refused by name when the config loads."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ditto_data.builders import load_config
from ditto_data.builders.stage import ConfigError, Stage, register_stage, registered_stages
from ditto_data.models import families

ROOT = Path(__file__).resolve().parents[1]

WITH_BACKENDS = sorted(name for name, stage in registered_stages().items() if stage.backends)


def test_every_stage_with_backends_declares_a_family():
    assert WITH_BACKENDS == ["caption", "depth", "enhance", "features", "generate", "instruction", "judge",
                             "keyframe_edit", "motion"]
    for name in WITH_BACKENDS:
        family = registered_stages()[name].family
        assert issubclass(family, families.Backend) and family.__module__ == families.__name__, name


@pytest.mark.parametrize("name,backend", [(n, b) for n in WITH_BACKENDS for b in registered_stages()[n].backends])
def test_every_backend_of_a_stage_is_a_whole_class_of_its_family(name, backend):
    stage = registered_stages()[name]
    cls = stage.backend_class(stage.Config(backend=backend))
    assert issubclass(cls, stage.family)
    assert not inspect.isabstract(cls), f"{cls.__name__} leaves out {sorted(cls.__abstractmethods__)}"
    assert stage.resources_for(stage.Config(backend=backend)) == (cls.resources or stage.resources)


def test_capabilities_are_declared_with_defaults():
    stages = registered_stages()
    cpu = {n: stages[n].backend_class(stages[n].Config(backend="cpu")) for n in WITH_BACKENDS
           if "cpu" in stages[n].backends}
    assert cpu["motion"].streams and cpu["generate"].streams
    assert not cpu["instruction"].needs_frames and cpu["enhance"].identity
    assert not families.MotionScorer.streams and not families.VideoGenerator.streams
    assert families.Instructor.needs_frames and not families.Enhancer.identity
    assert families.Backend.resources is None
    assert cpu["judge"](stages["judge"].Config()).model_info == {}


def test_the_families_and_the_backend_modules_import_without_torch():
    modules = ["ditto_data.models.families", "ditto_data.stages"] + [
        f"ditto_data.models.{m}" for m in ("cotracker", "depth_anything", "dinov2", "qwen_image", "qwen_vl",
                                           "wan22", "wan_vace")]
    code = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            "sys.exit('torch' in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


class LoudCaptioner:
    """A plugin backend that forgot to say what it is (no family)."""

    def __init__(self, config):
        self.config = config

    def setup(self):
        pass

    def caption(self, frames, info):
        return "loud"


class JudgeNamedAsCaptioner(families.EditJudge):
    """A plugin backend of another family: a judge named as a captioner."""

    def judge(self, source_frames, edited_frames, instruction, seed=0):
        return {}


class PlainCaptioner(families.Captioner):
    def caption(self, frames, info):
        return f"{len(frames)} frames"


@pytest.fixture()
def plugin_backends(monkeypatch):
    stage = registered_stages()["caption"]
    table = dict(stage.backends, loud=f"{__name__}:LoudCaptioner", judge=f"{__name__}:JudgeNamedAsCaptioner",
                 plain=f"{__name__}:PlainCaptioner", gone="ditto_plugin_that_is_not_there:Captioner")
    monkeypatch.setattr(stage, "backends", table)
    return stage


@pytest.mark.parametrize("backend,cls_name", [("loud", "LoudCaptioner"), ("judge", "JudgeNamedAsCaptioner")])
def test_a_plugin_backend_not_of_the_family_is_a_config_error_naming_it(plugin_backends, backend, cls_name):
    with pytest.raises(ConfigError) as e:
        load_config({"stages": {"caption": {"backend": backend}}})
    assert e.value.field == "stages.caption.backend"
    assert (f"backend {backend!r} ({__name__}:{cls_name}) is not a Captioner: every 'caption' backend "
            "subclasses ditto_data.models.families.Captioner") in str(e.value)
    with pytest.raises(ConfigError, match="is not a Captioner"):  # and wherever the class is asked for
        plugin_backends.backend_class(plugin_backends.Config(backend=backend))


def test_a_plugin_backend_of_the_family_runs_and_one_that_cannot_be_imported_is_named(plugin_backends):
    cfg = load_config({"stages": {"caption": {"backend": "plain"}}})
    cls = plugin_backends.backend_class(cfg.stage_config("caption"))
    assert cls is PlainCaptioner and cls(cfg.stage_config("caption")).caption(np.zeros((2, 4, 4, 3)), {}) == "2 frames"
    assert plugin_backends.resources_for(cfg.stage_config("caption")) == plugin_backends.resources
    with pytest.raises(ConfigError, match="cannot import 'ditto_plugin_that_is_not_there:Captioner'") as e:
        load_config({"stages": {"caption": {"backend": "gone"}}})
    assert e.value.field == "stages.caption.backend"
    load_config({"stages": {"caption": {"backend": "gone", "enabled": False}}})  # a stage that does not run


def test_a_family_member_that_leaves_out_a_method_cannot_be_built():
    class Half(families.Captioner):
        pass

    with pytest.raises(TypeError, match="caption"):
        Half(None)


def test_a_stage_with_backends_but_no_family_is_refused_when_registered():
    class Untyped(Stage):
        name = "untyped_backends"
        backends = {"cpu": f"{__name__}:LoudCaptioner"}

    with pytest.raises(TypeError, match="'untyped_backends' names backends but no family"):
        register_stage(Untyped)
    assert "untyped_backends" not in registered_stages()
