"""A small server-side chart renderer: bar and line charts as geometry Structs that a template draws as SVG."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import msgspec

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28
SERIES_CLASSES = ("s0", "s1", "s2", "s3", "s4", "s5")


class Tick(msgspec.Struct, kw_only=True, frozen=True):
    """An axis tick: where it is drawn and its label."""

    x: float = 0.0
    y: float = 0.0
    label: str


class Bar(msgspec.Struct, kw_only=True, frozen=True):
    x: float
    y: float
    width: float
    height: float
    title: str  # native SVG tooltip text (escaped by the template)


class Series(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    css_class: str
    points: str  # "x,y x,y ..." for <polyline points>
    dots: list[tuple[float, float, str]]


class Chart(msgspec.Struct, kw_only=True, frozen=True):
    """Everything the chart template needs; all coordinates are in the viewBox."""

    kind: str  # "bar" | "line"
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_right: float = WIDTH - RIGHT
    plot_bottom: float = HEIGHT - BOTTOM
    top: int = TOP
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    bars: list[Bar] = msgspec.field(default_factory=list)
    series: list[Series] = msgspec.field(default_factory=list)
    empty: bool = False
    title: str = ""


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `maximum` (1-2-2.5-5 steps)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < maximum - 1e-12:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _x_ticks(labels: Sequence[str], position: Callable[[int], float], max_labels: int = 8) -> list[Tick]:
    if not labels:
        return []
    every = max(1, math.ceil(len(labels) / max_labels))
    return [Tick(x=round(position(i), 2), y=HEIGHT - BOTTOM + 16, label=label)
            for i, label in enumerate(labels) if i % every == 0]


def _y_axis(maximum: float, fmt: Callable[[float], str]) -> tuple[list[Tick], float]:
    ticks = nice_ticks(maximum)
    top_value = ticks[-1] or 1.0
    plot_height = HEIGHT - TOP - BOTTOM
    return ([Tick(x=LEFT - 8, y=round(HEIGHT - BOTTOM - plot_height * t / top_value, 2), label=fmt(t))
             for t in ticks], top_value)


def bar_chart(labels: Sequence[str], values: Sequence[float], fmt: Callable[[float], str],
              title: str = "") -> Chart:
    """Vertical bars, one per label, with a zero-based y axis."""
    if not values or max(values) <= 0:
        y_ticks, _ = _y_axis(0, fmt)
        return Chart(kind="bar", y_ticks=y_ticks, x_ticks=[], empty=True, title=title)
    y_ticks, top_value = _y_axis(max(values), fmt)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / len(values)
    gap = min(slot * 0.2, 6)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = plot_height * max(value, 0) / top_value
        bars.append(Bar(x=round(LEFT + i * slot + gap / 2, 2), y=round(HEIGHT - BOTTOM - height, 2),
                        width=round(max(slot - gap, 1), 2), height=round(height, 2), title=f"{label}: {fmt(value)}"))
    return Chart(kind="bar", y_ticks=y_ticks, x_ticks=_x_ticks(labels, lambda i: LEFT + (i + 0.5) * slot),
                 bars=bars, title=title)


def line_chart(labels: Sequence[str], series: dict[str, Sequence[float]], fmt: Callable[[float], str],
               title: str = "") -> Chart:
    """One polyline per series over shared x labels (at most len(SERIES_CLASSES) series)."""
    named = list(series.items())[: len(SERIES_CLASSES)]
    peak = max((max(values) for _, values in named if values), default=0)
    y_ticks, top_value = _y_axis(peak, fmt)
    if not labels or peak <= 0:
        return Chart(kind="line", y_ticks=y_ticks, x_ticks=[], empty=True, title=title)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM

    def x_of(i: int) -> float:
        return LEFT + (plot_width * i / (len(labels) - 1) if len(labels) > 1 else plot_width / 2)

    drawn = []
    for index, (name, values) in enumerate(named):
        coords = [(round(x_of(i), 2), round(HEIGHT - BOTTOM - plot_height * v / top_value, 2))
                  for i, v in enumerate(values)]
        drawn.append(Series(name=name, css_class=SERIES_CLASSES[index],
                            points=" ".join(f"{x},{y}" for x, y in coords),
                            dots=[(x, y, f"{name} {labels[i]}: {fmt(values[i])}") for i, (x, y) in enumerate(coords)]))
    return Chart(kind="line", y_ticks=y_ticks, x_ticks=_x_ticks(labels, x_of), series=drawn, title=title)


def share(value: float, total: float) -> float:
    """A 0-100 bar length for inline table bars."""
    return round(100 * value / total, 2) if total > 0 else 0.0
