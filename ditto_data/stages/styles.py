"""The style library: global styles the CPU pipeline can really apply, with honest instructions.

Each :class:`Style` is a deterministic per-frame filter (RGB ``uint8 [H, W, 3]`` in, same shape and
dtype out) plus several phrasings of the instruction that describes what the filter does. The
filter takes the frame index too, so styles with texture (film grain) stay deterministic per frame;
every other style ignores it, so the same filter applied to every frame is temporally as stable as
the source. Sizes of blocks, blurs and lines scale with the frame, so a style looks the same at
320x176 and at 1280x720.

The instruction stage picks styles and phrasings from here; keyframe edit and the CPU generator
apply the filter. ``global_style`` triplets built this way are real edits that match their text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

Frame = np.ndarray  # uint8 [H, W, 3], RGB


@dataclass(frozen=True)
class Style:
    name: str
    apply: Callable[[Frame, int], Frame]  # (frame, frame index) -> edited frame
    phrasings: tuple[str, ...]  # instructions that describe the change, any one of them is correct
    description: str  # one line for docs and the dataset card


# ----------------------------------------------------------------------------------------------
# helpers


def _scale(frame: Frame, frac: float, minimum: int = 1) -> int:
    """A length proportional to the frame's short side (so looks do not depend on resolution)."""
    return max(minimum, int(round(min(frame.shape[:2]) * frac)))


def _odd(n: int) -> int:
    return n if n % 2 else n + 1


def _gray(frame: Frame) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, 255).astype(np.uint8)


def _vignette(h: int, w: int, strength: float) -> np.ndarray:
    """A multiplicative radial falloff, 1 in the centre and ``1 - strength`` in the corners."""
    y = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    r2 = (x * x + y * y) / 2.0
    return (1.0 - strength * r2)[..., None]


def _grain(h: int, w: int, index: int, sigma: float) -> np.ndarray:
    """Film grain for frame ``index``: the same frame index always gets the same grain."""
    rng = np.random.default_rng(0x9E3779B1 + index)
    g = rng.normal(0.0, sigma, size=(h, w)).astype(np.float32)
    return cv2.GaussianBlur(g, (3, 3), 0.6)


def _at_half_size(frame: Frame, fn: Callable[[Frame], Frame]) -> Frame:
    """Run an expensive smoothing at half size and scale back: bilateral filters cost O(d^2) a pixel."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    return cv2.resize(fn(small), (w, h), interpolation=cv2.INTER_LINEAR)


def _posterize(frame: Frame, levels: int) -> Frame:
    step = 256 // levels
    return (frame // step * step + step // 2).astype(np.uint8)


def _grade(frame: Frame, gains: tuple[float, float, float], lift: tuple[float, float, float] = (0, 0, 0),
           saturation: float = 1.0) -> Frame:
    """Per-channel gain and lift after a saturation change: a simple colour grade."""
    f = frame.astype(np.float32)
    if saturation != 1.0:
        luma = (f @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        f = luma + (f - luma) * saturation
    f = f * np.array(gains, np.float32) + np.array(lift, np.float32)
    return _to_u8(f)


# ----------------------------------------------------------------------------------------------
# the filters (RGB uint8 in, RGB uint8 out, same size)


def pencil_sketch(frame: Frame, index: int = 0) -> Frame:
    """Colour-dodge of the grey image by its blurred negative: graphite lines on off-white paper."""
    g = _gray(frame)
    blur = cv2.GaussianBlur(255 - g, (0, 0), _scale(frame, 0.03))
    sketch = cv2.divide(g, 255 - blur, scale=256)
    sketch = (sketch.astype(np.float32) * (235.0 / 255.0) + 12).astype(np.uint8)  # paper is not pure white
    return cv2.cvtColor(sketch, cv2.COLOR_GRAY2RGB)


def sepia(frame: Frame, index: int = 0) -> Frame:
    m = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)
    return _to_u8(frame.astype(np.float32) @ m.T)


def pixel_art(frame: Frame, index: int = 0) -> Frame:
    """Big square pixels (about 45 across the short side) and a few levels per colour channel."""
    h, w = frame.shape[:2]
    block = _scale(frame, 1 / 45, 2)
    small = cv2.resize(frame, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA)
    small = _posterize(small, 6)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def posterize(frame: Frame, index: int = 0) -> Frame:
    """Smoothed flat areas, then four tones per channel: a screen-printed poster."""
    smooth = _at_half_size(frame, lambda f: cv2.bilateralFilter(f, _odd(_scale(f, 0.02, 3)), 60, 60))
    return _posterize(smooth, 4)


def watercolour(frame: Frame, index: int = 0) -> Frame:
    """Edge-preserving smoothing (bleeding colour), lightened like pigment on paper, soft outlines."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    for _ in range(3):
        small = cv2.bilateralFilter(small, 9, 40, 7)
    smooth = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    washed = smooth * 0.8 + 255 * 0.2
    g = cv2.GaussianBlur(_gray(frame), (0, 0), _scale(frame, 0.005))
    edges = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    edges = np.clip(edges / 200.0, 0, 1)[..., None]
    return _to_u8(washed * (1 - 0.45 * edges))


def cartoon(frame: Frame, index: int = 0) -> Frame:
    """Flat cel-shaded colour regions with bold black outlines."""
    color = _at_half_size(frame, lambda f: cv2.bilateralFilter(cv2.bilateralFilter(f, 9, 75, 75), 9, 75, 75))
    color = _posterize(color, 5)
    g = _at_half_size(_gray(frame), lambda f: cv2.medianBlur(f, _odd(_scale(f, 0.015, 3))))
    lines = cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY,
                                  _odd(_scale(frame, 0.05, 5)), 6)
    return cv2.bitwise_and(color, color, mask=lines)


def neon_edges(frame: Frame, index: int = 0) -> Frame:
    """Edges glowing in their own saturated colour on a black background."""
    g = cv2.GaussianBlur(_gray(frame), (0, 0), 1.0).astype(np.float32)
    mag = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    mag = np.clip(mag / 120.0, 0, 1)
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    hsv[..., 1] = 255
    hsv[..., 2] = 255
    vivid = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)
    lit = vivid * mag[..., None]
    glow = cv2.GaussianBlur(lit, (0, 0), _scale(frame, 0.01))
    return _to_u8(lit + 1.5 * glow)


def bw_film(frame: Frame, index: int = 0) -> Frame:
    """High-contrast black and white with a vignette and fine grain (grain fixed per frame index)."""
    g = _gray(frame).astype(np.float32) / 255.0
    # a fixed S-curve stretched to 0..255; no per-frame normalisation, which would flicker
    lo, hi = 1.0 / (1.0 + np.exp(3.0)), 1.0 / (1.0 + np.exp(-3.0))
    g = (1.0 / (1.0 + np.exp(-6.0 * (g - 0.5))) - lo) / (hi - lo) * 255.0
    h, w = g.shape
    g = g * _vignette(h, w, 0.45)[..., 0] + _grain(h, w, index, 6.0)
    return cv2.cvtColor(_to_u8(g), cv2.COLOR_GRAY2RGB)


def infrared(frame: Frame, index: int = 0) -> Frame:
    """False-colour infrared: red and green channels swapped, so greenery turns red-pink."""
    out = frame[..., [1, 0, 2]].astype(np.float32)
    out[..., 0] = out[..., 0] * 1.15 + 10
    return _to_u8(out)


def vintage_faded(frame: Frame, index: int = 0) -> Frame:
    """Lifted blacks, washed-out warm colours and darker corners: an old faded print."""
    f = _grade(frame, (1.0, 0.95, 0.8), lift=(40, 30, 20), saturation=0.55).astype(np.float32)
    f = f * 0.82
    h, w = frame.shape[:2]
    return _to_u8(f * _vignette(h, w, 0.35) + 12)


def thermal(frame: Frame, index: int = 0) -> Frame:
    """Brightness mapped to a heat-camera palette (black-purple for dark, yellow-white for bright)."""
    g = _gray(frame)  # a fixed mapping: per-frame histogram equalisation would flicker
    bgr = cv2.applyColorMap(g, cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def mosaic(frame: Frame, index: int = 0) -> Frame:
    """Square tiles of averaged colour separated by dark grout lines."""
    h, w = frame.shape[:2]
    tile = _scale(frame, 1 / 22, 4)
    small = cv2.resize(frame, (max(1, w // tile), max(1, h // tile)), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    sx, sy = w / small.shape[1], h / small.shape[0]
    xs = (np.arange(w) % sx) < 1.0
    ys = (np.arange(h) % sy) < 1.0
    grout = xs[None, :] | ys[:, None]
    out[grout] = out[grout] * 0.25 + 20
    return _to_u8(out)


def emboss(frame: Frame, index: int = 0) -> Frame:
    """A grey relief: light from the top left, edges raised, flat areas mid-grey."""
    g = cv2.GaussianBlur(_gray(frame), (3, 3), 0).astype(np.float32)
    k = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float32)
    e = cv2.filter2D(g, -1, k) - g + 128.0
    return cv2.cvtColor(_to_u8(e), cv2.COLOR_GRAY2RGB)


def negative(frame: Frame, index: int = 0) -> Frame:
    return 255 - frame


def warm_sunset(frame: Frame, index: int = 0) -> Frame:
    """Golden-orange grade: reds and yellows up, blues down, slightly more saturated."""
    return _grade(frame, (1.18, 1.02, 0.72), lift=(18, 6, -4), saturation=1.15)


def teal_cold(frame: Frame, index: int = 0) -> Frame:
    """Cold grade: blues and greens up, reds down, slightly desaturated."""
    return _grade(frame, (0.75, 1.0, 1.2), lift=(-6, 8, 22), saturation=0.85)


def halftone(frame: Frame, index: int = 0) -> Frame:
    """Black ink dots on a fixed grid, bigger where the image is darker, like newspaper print."""
    h, w = frame.shape[:2]
    cell = _scale(frame, 1 / 40, 4)
    g = _gray(frame)
    small = cv2.resize(g, (max(1, w // cell), max(1, h // cell)), interpolation=cv2.INTER_AREA)
    dark = 1.0 - cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST).astype(np.float32) / 255.0
    sx, sy = w / small.shape[1], h / small.shape[0]
    dx = (np.arange(w) % sx) / sx - 0.5
    dy = (np.arange(h) % sy) / sy - 0.5
    r = np.sqrt(dx[None, :] ** 2 + dy[:, None] ** 2)
    ink = r < 0.72 * np.sqrt(dark)  # dot area grows with darkness
    out = np.full((h, w), 240, np.uint8)
    out[ink] = 25
    return cv2.cvtColor(out, cv2.COLOR_GRAY2RGB)


# ----------------------------------------------------------------------------------------------
# the library

STYLES: dict[str, Style] = {s.name: s for s in (
    Style("pencil_sketch", pencil_sketch, (
        "Turn this video into a pencil sketch.",
        "Make it look hand-drawn in graphite pencil on white paper.",
        "Render the scene as a black-and-white pencil drawing.",
        "Convert the footage into a grey pencil sketch with fine shaded lines.",
    ), "graphite pencil drawing on off-white paper"),
    Style("sepia", sepia, (
        "Give the video a sepia tone like an old photograph.",
        "Apply a warm brown sepia tint to the whole video.",
        "Make it look like an antique sepia-toned photo.",
    ), "brown monochrome sepia toning"),
    Style("pixel_art", pixel_art, (
        "Turn the video into retro pixel art.",
        "Make it look like an 8-bit video game with big square pixels and few colours.",
        "Pixelate the scene into chunky blocks with a limited colour palette.",
    ), "large square pixels with a reduced palette"),
    Style("posterize", posterize, (
        "Turn the video into a flat-colour poster with only a few tones.",
        "Posterize the video so colours fall into a handful of flat bands.",
        "Make it look screen-printed, with smooth flat patches of colour.",
    ), "smoothed flat regions, four tones per channel"),
    Style("watercolour", watercolour, (
        "Make the video look like a watercolour painting.",
        "Paint the scene in soft, light watercolours with gently outlined shapes.",
        "Turn it into a pale watercolour artwork with blended colours.",
    ), "soft blended colours, lightened, faint outlines"),
    Style("cartoon", cartoon, (
        "Turn the video into a cartoon with bold black outlines.",
        "Make it look cel-shaded, with flat colours and thick dark lines.",
        "Convert the scene into a comic-style cartoon.",
    ), "flat cel-shaded colours with black outlines"),
    Style("neon_edges", neon_edges, (
        "Make the edges glow like neon lights on a black background.",
        "Turn the video into glowing neon outlines in the dark.",
        "Keep only the outlines, glowing in bright neon colours over black.",
    ), "glowing coloured edges on black"),
    Style("bw_film", bw_film, (
        "Make it look like an old black-and-white film with grain.",
        "Convert the video to grainy, high-contrast black and white with dark corners.",
        "Give it the look of vintage monochrome film stock, with grain and a vignette.",
    ), "high-contrast monochrome with grain and vignette"),
    Style("infrared", infrared, (
        "Give the video a false-colour infrared look where greens turn red and pink.",
        "Swap the colours like infrared film, turning green areas reddish.",
        "Apply a false-colour infrared effect to the whole video.",
    ), "red and green swapped, false-colour infrared"),
    Style("vintage_faded", vintage_faded, (
        "Make the video look faded and vintage, like an old photo print.",
        "Wash out the colours and lift the blacks for a faded retro look.",
        "Give it a warm, faded 1970s look with darker corners.",
    ), "lifted blacks, muted warm colours, vignette"),
    Style("thermal", thermal, (
        "Make it look like a thermal camera image.",
        "Render the video as a heat map, dark areas purple-black and bright areas yellow.",
        "Apply a thermal-vision colour palette to the video.",
    ), "brightness mapped to an inferno heat palette"),
    Style("mosaic", mosaic, (
        "Turn the video into a tile mosaic.",
        "Make the scene look built from square mosaic tiles with dark grout lines.",
        "Render it as a mosaic of small coloured squares.",
    ), "square tiles of averaged colour with dark grout"),
    Style("emboss", emboss, (
        "Make the video look embossed, like a grey relief.",
        "Turn the scene into a raised grey stone carving.",
        "Apply an emboss effect so the edges stand out in grey relief.",
    ), "grey relief, lit from the top left"),
    Style("negative", negative, (
        "Invert the colours of the video.",
        "Turn it into a photographic negative.",
        "Make every colour its opposite, like a film negative.",
    ), "inverted colours"),
    Style("warm_sunset", warm_sunset, (
        "Give the video a warm golden sunset colour grade.",
        "Make the colours warmer, with orange and golden tones.",
        "Colour-grade the video with a warm, golden-hour glow.",
    ), "warm orange-golden grade"),
    Style("teal_cold", teal_cold, (
        "Apply a cold teal-blue colour grade.",
        "Make the video look cold, with blue and teal tones.",
        "Cool down the colours to an icy blue-teal look.",
    ), "cold teal-blue grade"),
    Style("halftone", halftone, (
        "Turn the video into a black-and-white halftone print made of dots.",
        "Make it look like a newspaper photo printed with ink dots.",
        "Render the scene as a dotted halftone pattern.",
    ), "black ink dots on a grid, sized by darkness"),
)}  # fmt: skip


def style_names() -> list[str]:
    return list(STYLES)


def get_style(name: str) -> Style:
    try:
        return STYLES[name]
    except KeyError:
        raise KeyError(f"unknown style {name!r}; known: {', '.join(STYLES)}") from None


def apply_style(name: str, frame: Frame, index: int = 0) -> Frame:
    """Apply style ``name`` to one RGB uint8 frame (frame ``index`` of its video)."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 frame [H, W, 3], got {frame.dtype} {frame.shape}")
    out = get_style(name).apply(np.ascontiguousarray(frame), index)
    if out.shape != frame.shape or out.dtype != np.uint8:  # a bug in a filter, never bad input
        raise RuntimeError(f"style {name!r} returned {out.dtype} {out.shape} for {frame.shape}")
    return out
