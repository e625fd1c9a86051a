"""The digest's chart image: quota attainment per rep and the funnel, as a PNG.

`render_chart_png(chart)` draws two panels with matplotlib's Agg renderer (headless; a `Figure`
and its own canvas, never pyplot, so no global state and safe in a worker thread):

- quota attainment per rep: horizontal bars (green at or above 100%, blue below) with the
  percentage at each bar and a dashed line at 100%;
- the funnel: deals reaching each stage, a bar per stage with its count.

A panel without data is left out (only reps without revenue quotas: the funnel alone). When
`chart.empty` — no rep with a quota and no deal in any stage — there is nothing to draw and it
returns None; callers skip the upload (bot/digests/channels.py checks `chart.empty` first).

Deterministic: fixed size and resolution, no timestamp or "Software" entry in the PNG metadata,
so the same chart gives the same bytes with the same matplotlib and fonts.

Fonts. The text is drawn with the first installed font that has a glyph for every character
(DejaVu Sans, bundled with matplotlib, first; then every font matplotlib knows, by name; then
the system's font files matplotlib's cache has not seen yet, such as a CJK font installed after
matplotlib built its cache — `apt install fonts-wqy-microhei` on Debian/Ubuntu; macOS and
Windows ship CJK fonts). When
none covers it all — typically Chinese labels on a machine without a CJK font such as Noto Sans
CJK — DejaVu Sans draws it: each of the chart's own labels it cannot draw falls back to English
and any character still missing (in a rep's name) is drawn as "?", so matplotlib never warns
about missing glyphs.

matplotlib is imported inside the function: importing this module costs nothing. Nor does it
import the digest's builder or the translations (Babel's data, the catalogs): only a chart
that falls back to English needs them, so a chart process (bot/digests/chart_worker.py) that
imports this module holds matplotlib and little else.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import threading
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from reports.digest.model import ChartData

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 4.5, 100
MAX_BARS = 15
MAX_LABEL = 22
MISSING = "?"
PNG_COMPRESSION = 3
TICK_ROOM_PX = 30  # tick and padding left of the rep names
GOOD, BELOW, FUNNEL, LINE = "#2e9d5b", "#4a7bd0", "#6c5fc7", "#c0392b"


def render_chart_png(chart: ChartData) -> bytes | None:
    """The chart as PNG bytes, or None when `chart.empty` (nothing to draw)."""
    if chart.empty:
        return None
    _freeze_matplotlib()
    with _collected_young():
        return _draw(chart)


def warm_up() -> None:
    """Import matplotlib and find the fonts now, not with the first chart (a chart process
    does this before its first request: bot/digests/chart_worker.py)."""
    _freeze_matplotlib()


_pause = {"drawings": 0, "was_enabled": True}  # drawings under way with the collector paused
_pause_lock = threading.Lock()


@contextlib.contextmanager
def _collected_young() -> Iterator[None]:
    """Draw with the automatic collection paused, then collect the young generations.

    A figure is a web of reference cycles holding its pixel buffers: left to the cyclic
    collector, the few hundred charts of a Monday fan-out stayed in memory (~2 MB each) until
    a full collection. A full collection after each chart walked every object the server had
    made since start-up (30-45 ms a chart in the fan-out, a seventh of the server's CPU).
    Paused, the collector promotes none of the figure's objects to an older generation while
    it is drawn, so collecting the two young generations frees all of it, walking only the
    objects made since the last collection."""
    with _pause_lock:
        if _pause["drawings"] == 0:
            _pause["was_enabled"] = gc.isenabled()
            gc.disable()
        _pause["drawings"] += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pause["drawings"] -= 1
            if _pause["drawings"] == 0 and _pause["was_enabled"]:
                gc.enable()
        gc.collect(1)


@functools.cache
def _freeze_matplotlib() -> None:
    """Import matplotlib and leave what its import built (modules, rc parameters, font
    caches: hundreds of thousands of objects alive until exit) out of the cyclic collector,
    as `kpibot serve` does for its start-up objects: the full collection after each chart
    otherwise walked them all, about 75 ms a chart, a third of the drawing. Once per
    process; garbage is collected first, so nothing collectable is frozen."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401

    _candidate_fonts()
    gc.collect()
    gc.freeze()


def _draw(chart: ChartData) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import MaxNLocator, PercentFormatter, StrMethodFormatter

    path, texts, reps, stages = drawable_texts(chart)
    attainment = list(chart.attainment[:MAX_BARS])
    show_quota = bool(reps)
    show_funnel = any(chart.stage_counts)
    font = FontProperties(fname=path, size=9)
    heading = FontProperties(fname=path, size=11)
    title_font = FontProperties(fname=path, size=13)

    # Fixed margins sized from the rep labels, not a layout engine: constrained layout
    # measured every text again and cost about a third of the drawing time.
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(**margins(reps if show_quota else [], font))
    figure.suptitle(texts["title"], fontproperties=title_font)
    panels = int(show_quota) + int(show_funnel)
    axes = list(figure.subplots(1, panels, squeeze=False)[0])
    if show_quota:
        ax = axes.pop(0)
        positions = list(range(len(reps)))[::-1]  # first rep on top
        colors = [GOOD if share >= 1 - 1e-9 else BELOW for share in attainment]
        bars = ax.barh(positions, attainment, color=colors, height=0.6)
        ax.axvline(1.0, color=LINE, linestyle="--", linewidth=1.2)
        ax.set_xlim(0, max(1.2, max(attainment, default=0) * 1.2))
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        ax.set_yticks(positions, labels=reps)
        labels = ax.bar_label(bars, labels=[f"{share * 100:.0f}%" for share in attainment],
                              padding=3)
        _style(ax, texts["quota"], font, heading, labels)
    if show_funnel:
        ax = axes.pop(0)
        counts = list(chart.stage_counts)
        bars = ax.bar(range(len(stages)), counts, color=FUNNEL, width=0.6)
        ax.set_xticks(range(len(stages)), labels=stages)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.set_ylim(0, max(max(counts), 1) * 1.15)
        labels = ax.bar_label(bars, labels=[f"{count:,}" for count in counts], padding=2)
        _style(ax, texts["funnel"], font, heading, labels)

    buffer = io.BytesIO()
    # zlib level 3, not 6: half the encoding time (about 7 ms of a chart) for 5% more bytes
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None},
                   pil_kwargs={"compress_level": PNG_COMPRESSION})
    return buffer.getvalue()


def margins(reps: list[str], font) -> dict[str, float]:
    """Figure fractions around the panels: the left one leaves room for the widest rep name
    as the font draws it."""
    from matplotlib.textpath import TextToPath

    measure = TextToPath()
    widest = max((measure.get_text_width_height_descent(rep, font, ismath=False)[0]
                  for rep in reps), default=0.0) * DPI / 72  # points to pixels
    left = min(0.3, (widest + TICK_ROOM_PX) / (WIDTH_IN * DPI)) if reps else 0.0
    return {"left": max(left, 0.07), "right": 0.98, "top": 0.84, "bottom": 0.09,
            "wspace": 0.22}


def drawable_texts(chart: ChartData) -> tuple[str, dict[str, str], list[str], list[str]]:
    """(font path, {"title", "quota", "funnel"}, rep names, stage names) as they will be drawn:
    with the first font covering them all (the funnel's title naming its period), else with
    DejaVu Sans, each text it cannot draw in English (labels, without the period) or with "?"
    for the missing characters (names)."""
    reps = [_short(name) for name in chart.reps[:MAX_BARS]]
    texts = {"title": chart.title, "quota": chart.quota_title, "funnel": chart.funnel_title}
    stages = list(chart.stages)
    with_period = dict(texts, funnel=" — ".join(filter(None, (chart.funnel_title,
                                                                chart.funnel_period))))
    path = _font_covering([*with_period.values(), *reps, *stages])
    if path is not None:
        return path, with_period, reps, stages
    path = _dejavu()
    covered = _charmap(path)

    def drawable(text: str, keys: tuple[str, ...]) -> str:
        if covered.covers(_needed([text])):
            return text
        return _drawable(_english(text, keys), covered)

    titles, stage_keys = _title_keys(), _stage_keys()
    return (path, {key: drawable(text, titles) for key, text in texts.items()},
            [drawable(rep, ()) for rep in reps], [drawable(stage, stage_keys) for stage in stages])


@functools.cache
def _title_keys() -> tuple[str, ...]:
    """The English msgids of the chart's titles."""
    from reports.digest.build import CHART_QUOTA_TITLES

    return ("Quota attainment and funnel", *CHART_QUOTA_TITLES.values(),
            "Deals reaching each stage")


@functools.cache
def _stage_keys() -> tuple[str, ...]:
    """The English msgids of the funnel's stages."""
    from reports.digest.build import LABELS
    from reports.events import STAGE_ORDER

    return tuple(LABELS[str(stage)] for stage in STAGE_ORDER)


def _style(ax, title: str, font, heading, extra: Iterable) -> None:
    # At a fixed height (where matplotlib would put it: nothing is drawn above the panels):
    # left automatic, it measured every tick label of the panel to place it, ~30 ms a panel.
    ax.set_title(title, fontproperties=heading, loc="left", y=1.0)
    for text in [*ax.get_xticklabels(), *ax.get_yticklabels(), *extra]:
        text.set_fontproperties(font)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _english(text: str, keys: Iterable[str]) -> str:
    """The first English message of `keys` that reads `text` in some language (the keys
    disambiguate: "演示" is both the stage "Demo" and the column "Demos")."""
    from reports.i18n import english_of

    return english_of(text, keys)


def _drawable(text: str, covered: _Charmap) -> str:
    return "".join(char if ord(char) in covered or char.isspace() else MISSING
                   for char in text)


def _needed(texts: Iterable[str]) -> frozenset[int]:
    # the chart's own strings: percentages, digits and the ellipsis of shortened names
    extra = "0123456789%…"
    return frozenset(ord(c) for text in [*texts, extra] for c in text if not c.isspace())


def _font_covering(texts: Iterable[str]) -> str | None:
    """The path of the first font with a glyph for every character of `texts`."""
    needed = _needed(texts)
    for path in (*_candidate_fonts(), *_uncached_system_fonts()):
        if _charmap(path).covers(needed):
            return path
    return None


@functools.cache
def _uncached_system_fonts() -> tuple[str, ...]:
    """The system's TrueType/OpenType files missing from matplotlib's font cache, by path."""
    from matplotlib import font_manager

    known = {str(f.fname) for f in font_manager.fontManager.ttflist}
    return tuple(sorted(path for path in font_manager.findSystemFonts()
                        if path not in known and path.lower().endswith((".ttf", ".otf", ".ttc"))))


@functools.cache
def _dejavu() -> str:
    from matplotlib import font_manager

    return str(font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"),
                                     fallback_to_default=True))


@functools.cache
def _candidate_fonts() -> tuple[str, ...]:
    """DejaVu Sans, then every regular-weight font matplotlib found, sorted by name; not the
    "last resort" fonts whose every glyph is a placeholder box."""
    from matplotlib import font_manager

    others = sorted({(f.name, str(f.fname)) for f in font_manager.fontManager.ttflist
                     if f.style == "normal" and f.weight in (400, "normal", "regular")
                     and "lastresort" not in f.name.replace(" ", "").lower()})
    paths = [_dejavu()] + [path for _, path in others]
    return tuple(dict.fromkeys(paths))


class _Charmap:
    """The code points a font has glyphs for, as a sorted array: 4 bytes a glyph, where a
    frozenset of ints took about 60 (a CJK font's 30,000 glyphs: 1.8 MB instead of 0.1 MB,
    and every font on the machine is read when a Chinese label looks for one)."""

    def __init__(self, points) -> None:
        self.points = array("I", sorted(points))

    def __contains__(self, point: int) -> bool:
        at = bisect_left(self.points, point)
        return at < len(self.points) and self.points[at] == point

    def covers(self, needed: Iterable[int]) -> bool:
        return all(point in self for point in needed)


@functools.cache
def _charmap(path: str) -> _Charmap:
    from matplotlib.ft2font import FT2Font

    try:
        return _Charmap(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):  # unreadable font file: covers nothing
        return _Charmap(())
