"""Column charts drawn by the portal itself as SVG: geometry here, markup in
templates/checks/_column_chart.html. No JavaScript, no charting library, nothing fetched from elsewhere."""

import math
from dataclasses import dataclass

PALETTE = ("#1e40af", "#d97706", "#059669", "#7c3aed")


@dataclass(frozen=True)
class Series:
    name: str
    values: list[int]


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    value: int
    color: str
    title: str


@dataclass(frozen=True)
class AxisLabel:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class ColumnChart:
    title: str
    description: str
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    columns: list[Column]
    y_ticks: list[AxisLabel]
    x_labels: list[AxisLabel]
    legend: list[tuple[str, str]]
    categories: list[str]
    series: list[Series]

    @property
    def rows(self) -> list[tuple[str, list[int]]]:
        """The numbers behind the columns, a row per category: the chart's table for screen readers."""
        return [(category, [s.values[i] for s in self.series]) for i, category in enumerate(self.categories)]


def nice_step(maximum: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` gridlines up to `maximum`."""
    if maximum <= ticks:
        return 1
    rough = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(rough))
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= rough:
            return int(multiple * magnitude)
    return int(10 * magnitude)


def column_chart(
    *,
    title: str,
    description: str,
    categories: list[str],
    series: list[Series],
    width: int = 640,
    height: int = 240,
) -> ColumnChart:
    """Grouped columns: one group per category, one column per series within it."""
    left, right, top, bottom = 48.0, width - 8.0, 12.0, height - 40.0
    maximum = max((value for s in series for value in s.values), default=0)
    step = nice_step(maximum)
    axis_max = max(step, math.ceil(maximum / step) * step)
    scale = (bottom - top) / axis_max
    group_width = (right - left) / max(len(categories), 1)
    column_width = group_width * 0.8 / max(len(series), 1)
    columns = []
    for s_index, s in enumerate(series):
        color = PALETTE[s_index % len(PALETTE)]
        for c_index, value in enumerate(s.values):
            x = left + c_index * group_width + group_width * 0.1 + s_index * column_width
            h = value * scale
            label = (
                f"{categories[c_index]}: {value:,}"
                if len(series) == 1
                else f"{s.name}, {categories[c_index]}: {value:,}"
            )
            columns.append(
                Column(
                    round(x, 1),
                    round(bottom - h, 1),
                    round(column_width - 1, 1),
                    round(h, 1),
                    value,
                    color,
                    label,
                )
            )
    y_ticks = [
        AxisLabel(left - 6, round(bottom - value * scale, 1), f"{value:,}")
        for value in range(0, axis_max + 1, step)
    ]
    # Every category is labelled when they fit; otherwise every other one.
    every = 1 if group_width >= 44 else 2
    x_labels = [
        AxisLabel(round(left + i * group_width + group_width / 2, 1), bottom + 16, name)
        for i, name in enumerate(categories)
        if i % every == 0
    ]
    legend = [(s.name, PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)] if len(series) > 1 else []
    return ColumnChart(
        title=title,
        description=description,
        width=width,
        height=height,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        columns=columns,
        y_ticks=y_ticks,
        x_labels=x_labels,
        legend=legend,
        categories=categories,
        series=series,
    )
