"""
Bar charts drawn on the server as SVG: no script, readable without hovering
(axes with units, a value scale, a legend), and allowed by the strict CSP
because colours are SVG attributes, not inline styles.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

# Distinguishable in light and dark themes, and for the common colour-vision deficiencies.
PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#ec4899", "#84cc16", "#9ca3af"]

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 78, 12, 14, 30


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass
class Tick:
    position: float
    label: str


@dataclass
class Chart:
    unit: str
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    baseline: int = HEIGHT - BOTTOM
    empty: bool = True

    @property
    def middle(self) -> tuple[float, float]:
        return (self.left + self.plot_right) / 2, (self.plot_top + self.baseline) / 2


def nice_step(top: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``ticks`` gridlines up to ``top``."""
    if top <= 0:
        return 1
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * power:
            return float(multiple * power)
    return float(10 * power)


def compact_number(value: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def stacked_daily(
    days: Sequence[date],
    series: Sequence[tuple[str, Sequence[float | int | Decimal]]],
    *,
    unit: str,
    format_value: Callable[[float], str] = compact_number,
) -> Chart:
    """One bar per day, stacked by series (drawn in order, bottom up)."""
    chart = Chart(unit=unit)
    totals = [sum(float(values[i]) for _, values in series) for i in range(len(days))]
    top = max(totals, default=0)
    chart.empty = top <= 0
    step = nice_step(top)
    scale_top = step * max(1, math.ceil(top / step))
    plot_height = chart.baseline - chart.plot_top
    slot = (chart.plot_right - chart.left) / max(1, len(days))
    width = max(1.0, slot * 0.72)

    def y_of(value: float) -> float:
        return chart.baseline - value / scale_top * plot_height

    chart.y_ticks = [Tick(round(y_of(step * i), 1), format_value(step * i)) for i in range(round(scale_top / step) + 1)]
    label_every = max(1, math.ceil(len(days) / 8))
    for i, day in enumerate(days):
        x = chart.left + slot * i + (slot - width) / 2
        # Every few days, and the last day unless its label would overlap the one before.
        last = i == len(days) - 1
        if i % label_every == 0 or (last and i % label_every >= label_every / 2):
            chart.x_ticks.append(Tick(round(x + width / 2, 1), day.strftime("%m-%d")))
        stacked = 0.0
        for index, (name, values) in enumerate(series):
            value = float(values[i])
            if value <= 0:
                continue
            bottom, top_y = y_of(stacked), y_of(stacked + value)
            stacked += value
            chart.bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(top_y, 1),
                    width=round(width, 1),
                    height=round(max(bottom - top_y, 0.5), 1),
                    color=PALETTE[index % len(PALETTE)],
                    title=f"{day.isoformat()} · {name}: {format_value(value)}",
                )
            )
    if len(series) > 1:
        chart.legend = [(name, PALETTE[index % len(PALETTE)]) for index, (name, _) in enumerate(series)]
    return chart
