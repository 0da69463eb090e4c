"""A cost plan before money is spent: GPU-seconds and peak GPU memory per stage, from the models' configs.

For each stage of a build config, the work per *sample* (one generated edit triplet; a clip's
stages are shared by its ``edits_per_source`` edits) is counted from the model architecture:
transformer parameters and tokens (video latents of the configured size and frame count, image
tokens, prompt tokens), denoising steps and classifier-free-guidance passes, plus the VAE and text
encoders. FLOPs are turned into seconds with an *assumed* achieved throughput per GPU type (a
fraction of its dense bf16 peak; memory bandwidth for token-by-token decoding). These are
estimates, labelled so; where ``out_dir`` holds a build that ran a stage with the same config,
its measured seconds (``builders/timings.py``) replace the estimate.

Model dimensions come from the model folder's config when ``model`` is a local checkpoint, else
from the published configs of the paper's checkpoints below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..builders import timings
from ..builders.config import BuildConfig
from ..builders.stage import config_hash, get_stage
from ..schema import EDIT
from ..models.options import offload_mode

#: Ditto's own figure: 12,000 GPU-days for 1M samples (the paper's cost statement).
PAPER_GPU_DAYS, PAPER_SAMPLES = 12_000, 1_000_000


@dataclass(frozen=True)
class GPU:
    name: str
    bf16_tflops: float  # dense peak (no sparsity)
    bandwidth_tbs: float  # HBM/GDDR bandwidth
    memory_gb: float


#: Vendor datasheet figures (dense bf16 tensor TFLOPs, memory bandwidth, memory).
GPUS = {
    "h100": GPU("H100 SXM 80GB", 989.0, 3.35, 80.0),
    "h200": GPU("H200 SXM 141GB", 989.0, 4.8, 141.0),
    "a100": GPU("A100 SXM 80GB", 312.0, 2.04, 80.0),
    "l40s": GPU("L40S 48GB", 362.0, 0.864, 48.0),
    "4090": GPU("RTX 4090 24GB", 165.0, 1.01, 24.0),
}

#: Assumptions (not measured here): the fraction of peak that large transformer matmuls reach
#: (model FLOPs utilisation), that 3-D VAE convolutions reach, and of bandwidth in decoding.
MFU, VAE_MFU, BANDWIDTH_EFFICIENCY = 0.40, 0.10, 0.60
#: Wan2.1 VAE cost per pixel-frame (assumed from its conv stack: ~96-384 channels, 3x3x3 kernels).
VAE_DECODE_FLOPS_PER_PIXEL, VAE_ENCODE_FLOPS_PER_PIXEL = 8e6, 6e6
WAN_TEXT_TOKENS = 512  # diffusers' Wan pipelines pad T5 prompts to 512 tokens
UMT5_XXL_PARAMS = 5.7e9  # Wan's text encoder
QWEN_VL_IMAGE_PATCH = 28  # Qwen2.5-VL: one token per 28x28 pixels (14 px patches merged 2x2)

#: Transformer configs of the paper's checkpoints (the keys of their transformer/config.json).
WAN_14B = {"num_attention_heads": 40, "attention_head_dim": 128, "ffn_dim": 13824, "num_layers": 40,
           "patch_size": [1, 2, 2]}
WAN_1_3B = {"num_attention_heads": 12, "attention_head_dim": 128, "ffn_dim": 8960, "num_layers": 30,
            "patch_size": [1, 2, 2]}
KNOWN_DIT = {
    "Wan-AI/Wan2.1-VACE-14B-diffusers": {**WAN_14B, "vace_layers": [0, 5, 10, 15, 20, 25, 30, 35]},
    "Wan-AI/Wan2.1-VACE-1.3B-diffusers": {**WAN_1_3B, "vace_layers": list(range(0, 30, 2))},
    "Wan-AI/Wan2.2-T2V-A14B-Diffusers": WAN_14B,  # each expert; one is loaded
    "Wan-AI/Wan2.1-T2V-14B-Diffusers": WAN_14B,
    "Wan-AI/Wan2.1-T2V-1.3B-Diffusers": WAN_1_3B,
}
QWEN_IMAGE = {"num_layers": 60, "num_attention_heads": 24, "attention_head_dim": 128, "joint_attention_dim": 3584}
#: (parameters, hidden size) of the language models and vision encoders used.
KNOWN_PARAMS = {
    "Qwen/Qwen2.5-VL-7B-Instruct": (8.3e9, 0.67e9),  # total, of which vision tower
    "Qwen/Qwen2.5-VL-3B-Instruct": (3.75e9, 0.67e9),
    "Qwen/Qwen2.5-VL-32B-Instruct": (33.5e9, 0.67e9),
    "facebook/dinov2-small": (22e6, 0), "facebook/dinov2-base": (86e6, 0), "facebook/dinov2-large": (304e6, 0),
    "facebook/dinov2-giant": (1.1e9, 0),
    "depth-anything/Depth-Anything-V2-Small-hf": (25e6, 0), "depth-anything/Depth-Anything-V2-Base-hf": (98e6, 0),
    "depth-anything/Depth-Anything-V2-Large-hf": (335e6, 0),
}


@dataclass
class StagePlan:
    """One stage's cost per sample (GPU-seconds) and peak GPU memory of one worker."""

    stage: str
    backend: str
    model: str | None
    gpu_seconds: float  # per sample
    peak_memory_gb: float | None
    source: str  # estimate | measured | measured (ray: lower bound) | cpu
    detail: str = ""


@dataclass
class Plan:
    samples: int
    gpus: int
    gpu_type: str
    stages: list[StagePlan] = field(default_factory=list)

    @property
    def gpu(self) -> GPU:
        return GPUS[self.gpu_type]

    @property
    def per_sample_gpu_seconds(self) -> float:
        return sum(s.gpu_seconds for s in self.stages)

    @property
    def total_gpu_seconds(self) -> float:
        return self.per_sample_gpu_seconds * self.samples

    @property
    def wall_seconds(self) -> float:
        """With the GPU stages spread evenly over ``gpus`` GPUs."""
        return self.total_gpu_seconds / max(1, self.gpus)

    @property
    def paper_gpu_seconds(self) -> float:
        """The paper's cost for ``samples`` samples (12,000 GPU-days per 1M)."""
        return PAPER_GPU_DAYS * 86400 / PAPER_SAMPLES * self.samples

    @property
    def too_big(self) -> list[StagePlan]:
        return [s for s in self.stages if s.peak_memory_gb and s.peak_memory_gb > self.gpu.memory_gb]


# -- model configs --------------------------------------------------------------------------------


def _local_config(model: str | None, subfolder: str = "") -> dict[str, Any] | None:
    if not model:
        return None
    p = Path(model) / subfolder / "config.json"
    return json.loads(p.read_text()) if p.is_file() else None


def dit_config(model: str, subfolder: str = "transformer") -> dict[str, Any]:
    """A Wan transformer's config: the local checkpoint's, else the published one of a known Hub id."""
    cfg = _local_config(model, subfolder) or KNOWN_DIT.get(model)
    if cfg is None:
        raise KeyError(f"no transformer config for {model!r}: give a local checkpoint folder or one of "
                       f"{', '.join(KNOWN_DIT)}")
    return cfg


def wan_block_params(dim: int, ffn: int) -> float:
    """Self-attention 4d^2, cross-attention 4d^2 (text already projected to d), FFN 2*d*ffn."""
    return 8 * dim * dim + 2 * dim * ffn


def dit_forward_flops(cfg: dict[str, Any], tokens: int, text_tokens: int = WAN_TEXT_TOKENS) -> tuple[float, float]:
    """(FLOPs of one forward over ``tokens`` video tokens, parameters) of a Wan (VACE) transformer."""
    dim = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    blocks = cfg["num_layers"] + len(cfg.get("vace_layers") or [])
    per_block = 2 * wan_block_params(dim, cfg["ffn_dim"]) * tokens + 4 * tokens * tokens * dim \
        + 4 * tokens * text_tokens * dim
    return blocks * per_block, blocks * wan_block_params(dim, cfg["ffn_dim"])


def video_tokens(frames: int, height: int, width: int, patch: list[int], extra_frames: int = 0) -> int:
    """Latent tokens of a Wan video: time / 4 (+1), space / 8 by the VAE, then the transformer's patch."""
    latent_t = (frames - 1) // 4 + 1 + extra_frames
    return latent_t // patch[0] * (height // 8 // patch[1]) * (width // 8 // patch[2])


def _seconds(flops: float, gpu: GPU, mfu: float = MFU) -> float:
    return flops / (gpu.bf16_tflops * 1e12 * mfu)


def _gb(n_bytes: float) -> float:
    return n_bytes / 1e9


def _resident(parts_gb: list[float], activations_gb: float, mode: str) -> float:
    """Peak memory of a pipeline: all parts resident, the largest one (model offload), or ~one layer."""
    if mode == "model":
        return max(parts_gb) + activations_gb
    if mode == "sequential":
        return 1.5 + activations_gb
    return sum(parts_gb) + activations_gb


# -- per-stage estimates --------------------------------------------------------------------------


def _size(cfg: BuildConfig, stage_cfg: Any) -> tuple[int, int, int]:
    """(frames, height, width) a video model runs at: the stage's size, else the standardized clip's."""
    std = cfg.stage_config("standardize")
    h = getattr(stage_cfg, "height", None) or std.height
    w = getattr(stage_cfg, "width", None) or std.width
    return std.num_frames, h // 16 * 16, w // 16 * 16


def _wan_video(cfg: BuildConfig, scfg: Any, gpu: GPU, model: str, subfolder: str, steps: int, guidance: float,
               encodes: float, extra_frames: int) -> tuple[float, float, str]:
    frames, h, w = _size(cfg, scfg)
    dit = dit_config(model, subfolder)
    tokens = video_tokens(frames, h, w, dit["patch_size"], extra_frames)
    passes = 2 if guidance > 1 else 1
    fwd, params = dit_forward_flops(dit, tokens)
    pixels = frames * h * w
    seconds = (_seconds(fwd * steps * passes, gpu) + _seconds(2 * UMT5_XXL_PARAMS * WAN_TEXT_TOKENS * passes, gpu)
               + _seconds(pixels * (VAE_DECODE_FLOPS_PER_PIXEL + encodes * VAE_ENCODE_FLOPS_PER_PIXEL), gpu, VAE_MFU))
    dim = dit["num_attention_heads"] * dit["attention_head_dim"]
    act = _gb(tokens * (dit["ffn_dim"] + 6 * dim) * 2)
    vae = _gb(pixels * 3 * 4 * 3) + (1.5 if getattr(scfg, "vae_tiling", False) else 4.0)
    peak = _resident([_gb(params * 2), _gb(UMT5_XXL_PARAMS * 2), 0.5], max(act, vae), offload_mode(scfg.offload))
    detail = (f"{tokens:,} tokens x {steps} steps x {passes} pass{'es' if passes > 1 else ''}, "
              f"{params / 1e9:.1f}B DiT at {w}x{h}x{frames}")
    return seconds, peak, detail


def _qwen_image_edit(scfg: Any, gpu: GPU) -> tuple[float, float, str]:
    cfg = _local_config(scfg.model, "transformer") or QWEN_IMAGE
    dim = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    params = cfg["num_layers"] * 36 * dim * dim  # two streams x (attention 4d^2 + MLP 8d^2 + modulation 6d^2)
    side = (scfg.width or 1024, scfg.height or 1024)
    img = (side[0] // 16) * (side[1] // 16) * 2  # the generated image and the input image, 2x2-packed latents
    text = 300 + 1024 * 1024 // QWEN_VL_IMAGE_PATCH**2 // 4  # prompt + the VL encoder's image tokens
    fwd = 2 * (params / 2) * (img + text) + 4 * (img + text) ** 2 * dim * cfg["num_layers"]
    steps, passes = int(scfg.steps or 50), 2 if (scfg.true_cfg_scale or 1.0) > 1 else 1
    vl = 2 * KNOWN_PARAMS["Qwen/Qwen2.5-VL-7B-Instruct"][0] * text * passes
    seconds = _seconds(fwd * steps * passes + vl, gpu) + _seconds(side[0] * side[1] * 1.4e7, gpu, VAE_MFU)
    peak = _resident([_gb(params * 2), _gb(8.3e9 * 2), 0.5], _gb((img + text) * 4 * dim * 2 * 4),
                     offload_mode(scfg.offload))
    return seconds, peak, f"{img + text:,} tokens x {steps} steps x {passes} passes, {params / 1e9:.0f}B MMDiT"


def _vlm(scfg: Any, gpu: GPU, images: int, new_tokens: int) -> tuple[float, float, str]:
    model = scfg.model or "Qwen/Qwen2.5-VL-7B-Instruct"
    total, vision = KNOWN_PARAMS.get(model, KNOWN_PARAMS["Qwen/Qwen2.5-VL-7B-Instruct"])
    max_pixels = getattr(scfg, "max_pixels", None) or 448 * 448
    per_image = max_pixels // QWEN_VL_IMAGE_PATCH**2
    prefill = images * per_image + 400
    flops = 2 * (total - vision) * prefill + 2 * vision * images * per_image * 4
    decode = new_tokens * total * 2 / (gpu.bandwidth_tbs * 1e12 * BANDWIDTH_EFFICIENCY)
    peak = _gb(total * 2) + _gb(prefill * 28 * 2 * 4 * 128 * 2) + 1.0
    return _seconds(flops, gpu) + decode, peak, f"{images} images, {prefill:,} prompt + {new_tokens} new tokens"


def _per_frame_vit(scfg: Any, gpu: GPU, frames: int, side: int, default_model: str) -> tuple[float, float, str]:
    model = scfg.model or default_model
    params = KNOWN_PARAMS.get(model, KNOWN_PARAMS[default_model])[0]
    cfg = _local_config(model)
    if cfg and "hidden_size" in cfg and "num_hidden_layers" in cfg:
        params = 12 * cfg["hidden_size"] ** 2 * cfg["num_hidden_layers"]
    tokens = (side // 14) ** 2 + 1
    return (_seconds(2 * params * tokens * frames, gpu), _gb(params * 2) + 1.0,
            f"{frames} frames x {tokens} tokens, {params / 1e6:.0f}M params")


def estimate_stage(cfg: BuildConfig, name: str, gpu: GPU) -> StagePlan:
    """One stage's estimate per sample (clip stages divided among a clip's edits)."""
    scfg = cfg.stage_config(name)
    backend = getattr(scfg, "backend", "cpu")
    model = getattr(scfg, "model", None)
    stage = get_stage(name)
    if stage.resources_for(scfg).gpus <= 0:
        return StagePlan(name, backend, None, 0.0, None, "cpu", "CPU only")
    edits = max(1, cfg.stage_config("instruction").edits_per_source)
    frames = cfg.stage_config("standardize").num_frames
    if name == "generate":
        model = model or "Wan-AI/Wan2.1-VACE-14B-diffusers"
        s, m, d = _wan_video(cfg, scfg, gpu, model, "transformer", int(scfg.steps or 30),
                             float(scfg.guidance_scale or 5.0), encodes=2, extra_frames=1)
    elif name == "enhance":
        model = model or "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
        local = _local_config(model, "transformer_2")
        sub = "transformer_2" if (local and scfg.expert == "low") else "transformer"
        s, m, d = _wan_video(cfg, scfg, gpu, model, sub, int(scfg.steps or 4), float(scfg.guidance_scale or 1.0),
                             encodes=1, extra_frames=0)
    elif name == "keyframe_edit":
        model = model or "Qwen/Qwen-Image-Edit"
        s, m, d = _qwen_image_edit(scfg, gpu)
    elif name in ("caption", "instruction", "judge"):
        n_frames = getattr(scfg, "frames", None) or (4 if name == "judge" else 8)
        images = 2 * n_frames if name == "judge" else n_frames
        new = scfg.max_new_tokens or {"caption": 256, "instruction": 96, "judge": 160}[name]
        s, m, d = _vlm(scfg, gpu, images, new)
        if name == "caption":
            s, d = s / edits, d + f", per clip / {edits} edits"
        model = model or "Qwen/Qwen2.5-VL-7B-Instruct"
    elif name == "depth":
        s, m, d = _per_frame_vit(scfg, gpu, frames, 518, "depth-anything/Depth-Anything-V2-Large-hf")
        s, d = s / edits, d + f", per clip / {edits} edits"
    elif name == "features":
        s, m, d = _per_frame_vit(scfg, gpu, getattr(scfg, "num_keyframes", 4), 224, "facebook/dinov2-base")
        s, d = s / edits, d + f", per clip / {edits} edits"
    else:  # motion (CoTracker3) and any other GPU stage: a rough fixed figure
        s, m, d = _seconds(2e12 * frames / 101, gpu), 8.0, "rough: ~2 TFLOPs per 101-frame clip (assumed)"
        s, d = s / edits, d + f", per clip / {edits} edits"
    return StagePlan(name, backend, model, s, m, "estimate", d)


def plan_build(cfg: BuildConfig, samples: int, gpus: int = 1, gpu_type: str = "h100",
               out_dir: str | Path | None = None) -> Plan:
    """Per-stage GPU-seconds and peak memory per sample, and totals for ``samples`` on ``gpus`` GPUs.

    ``out_dir``: a build folder whose recorded stage times (same stage config) replace estimates.
    """
    if gpu_type not in GPUS:
        raise ValueError(f"gpu type {gpu_type!r} is not one of {', '.join(GPUS)}")
    if samples < 1 or gpus < 1:
        raise ValueError("samples and gpus must be at least 1")
    gpu = GPUS[gpu_type]
    measured = timings.load(out_dir) if out_dir is not None else []
    plan = Plan(samples, gpus, gpu_type)
    edits = max(1, cfg.stage_config("instruction").edits_per_source)
    for name in cfg.active_stages():
        est = estimate_stage(cfg, name, gpu)
        got = timings.gpu_seconds_per_record(measured, name, config_hash(cfg.stage_config(name)))
        if got is not None and est.source != "cpu":
            per_clip = EDIT not in get_stage(name).kinds
            ray = any(e["executor"] == "ray" for e in measured if e["stage"] == name)
            est = StagePlan(name, est.backend, est.model, got / edits if per_clip else got, est.peak_memory_gb,
                            "measured (ray: lower bound)" if ray else "measured",
                            f"from {out_dir}; estimate was {est.gpu_seconds:.1f} s")
        plan.stages.append(est)
    return plan
