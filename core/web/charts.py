"""Charts as inline SVG, built on the server: bar, line/area and stacked bar charts.

    from core.web.charts import Series, bar_chart, line_chart, stacked_bar_chart

    svg = bar_chart(["Not due", "1–30"], [Decimal("1200.00"), Decimal("80.00")],
                    title=_("Receivables aging"), y_label=_("Amount"),
                    value_format=format.money, tick_format=format.compact,
                    classes=["ok", "warn"])
    # in a template: {{ svg }}   (a Markup: every label inside is already escaped)

Pure functions: data in, ``markupsafe.Markup`` out; no Flask, no database, no script. Every
text (title, labels, series names, formatted values) is escaped, so a customer's name is safe
as a label. Nothing needs the Content-Security-Policy relaxed: no ``style`` attributes, only
CSS classes (``core/web/static/charts.css``) plus ``fill``/``stroke`` presentation attributes as
a fallback, which the stylesheet overrides.

Accessible: ``role="img"`` labelled by the chart's ``<title>`` and a ``<desc>`` listing every
value (what a screen reader reads), a ``<title>`` per bar and point (a tooltip), axis labels.

Values are ``int`` or ``Decimal`` (``float`` is accepted but never needed); they are turned into
floats only for coordinates. Displayed values go through ``value_format`` (e.g. a locale's
currency format, from ``Decimal``) and axis ticks through ``tick_format``. ``None`` is a missing
value (no bar, a gap in a line). Negative values go below the zero line. No labels at all gives
an empty chart saying ``empty_text``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

Number = int | Decimal | float

WIDTH = 640
HEIGHT = 260
_CLASS_OK = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Series:
    """One series of a line or stacked bar chart: its ``name`` (legend) and one value per label;
    ``css`` is a class added to its elements (colours come from the stylesheet)."""

    name: str
    values: Sequence[Number | None]
    css: str = ""


def _plain(value: Number) -> str:
    """A number without exponent or trailing zeros: ``Decimal("1E+3")`` -> ``1000``."""
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return str(value)


def _css(name: str) -> str:
    return _CLASS_OK.sub("", name or "")


def _e(text: object) -> str:
    return str(escape("" if text is None else str(text)))


def _num(value: float) -> str:
    """A coordinate with at most 2 decimals."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# -- scale ------------------------------------------------------------------------------------


def nice_scale(low: Number, high: Number, ticks: int = 5, *, integer: bool = False
               ) -> tuple[Decimal, Decimal, Decimal]:
    """``(start, stop, step)`` of an axis covering ``[low, high]`` and 0, in steps of 1, 2, 2.5
    or 5 times a power of ten (whole steps when ``integer``); ``(0, 1, step)`` when there is
    nothing but zeros."""
    low, high = min(Decimal(_plain(low)), Decimal(0)), max(Decimal(_plain(high)), Decimal(0))
    if low == high:
        high = Decimal(1)
    raw = (high - low) / max(ticks, 1)
    exponent = math.floor(math.log10(float(raw)))
    magnitude = Decimal(1).scaleb(exponent)
    step = magnitude * 10
    for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if magnitude * factor >= raw:
            step = magnitude * factor
            break
    if integer and step < 1:
        step = Decimal(1)
    if integer and step != step.to_integral_value():
        step = step.to_integral_value(rounding="ROUND_CEILING")
    start = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    stop = (high / step).to_integral_value(rounding="ROUND_CEILING") * step
    if stop == start:
        stop = start + step
    return start.normalize() if start else Decimal(0), stop.normalize(), step.normalize()


@dataclass
class _Frame:
    """The plot area inside the SVG and the mapping of values to y."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    start: Decimal
    stop: Decimal
    step: Decimal

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def y(self, value: Number) -> float:
        span = float(self.stop - self.start) or 1.0
        return self.top + self.plot_h * (1 - (float(value) - float(self.start)) / span)

    def ticks(self) -> list[Decimal]:
        out, value = [], self.start
        while value <= self.stop and len(out) < 50:
            out.append(value)
            value += self.step
        return out


def _values(values: Sequence[Number | None]) -> list[Number]:
    return [v for v in values if v is not None]


def _frame(values: list[Number], width: int, height: int, tick_format: Callable,
           y_label: str | None, x_label: str | None, legend: bool, integer: bool) -> _Frame:
    low = min(values, default=0)
    high = max(values, default=0)
    start, stop, step = nice_scale(low, high, integer=integer)
    probe = _Frame(width, height, 0, 0, 0, 0, start, stop, step)
    longest = max((len(str(tick_format(t))) for t in probe.ticks()), default=1)
    left = 12 + 7 * longest + (18 if y_label else 0)
    top = 34 if legend else 22
    bottom = 38 + (18 if x_label else 0)
    return _Frame(width, height, left, 12, top, bottom, start, stop, step)


# -- pieces -----------------------------------------------------------------------------------


def _ident(chart_id: str | None, title: str, labels: Sequence[str]) -> str:
    if chart_id:
        return _css(chart_id) or "chart"
    digest = hashlib.sha1("\x1f".join([title, *map(str, labels)]).encode()).hexdigest()[:10]
    return f"chart-{digest}"


def _open(ident: str, kind: str, css: str, width: int, height: int, title: str, desc: str) -> list[str]:
    classes = " ".join(c for c in ("chart", f"chart-{kind}", _css(css)) if c)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{classes}" id="{ident}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{ident}-title">{_e(title)}</title>',
        f'<desc id="{ident}-desc">{_e(desc)}</desc>',
    ]


def _empty(ident: str, kind: str, css: str, width: int, height: int, title: str,
           empty_text: str) -> Markup:
    parts = _open(ident, kind, css, width, height, title, empty_text)
    parts.append(f'<text class="chart-empty" x="{width // 2}" y="{height // 2}" '
                 f'text-anchor="middle" fill="#6b7785">{_e(empty_text)}</text></svg>')
    return Markup("".join(parts))


def _axes(frame: _Frame, tick_format: Callable, x_label: str | None, y_label: str | None) -> list[str]:
    parts = ['<g class="chart-grid">']
    for tick in frame.ticks():
        y = _num(frame.y(tick))
        parts.append(f'<line x1="{_num(frame.left)}" x2="{_num(frame.width - frame.right)}" '
                     f'y1="{y}" y2="{y}" stroke="#e3e7ec"/>')
        parts.append(f'<text class="chart-tick" x="{_num(frame.left - 6)}" y="{y}" '
                     f'text-anchor="end" dominant-baseline="middle" fill="#6b7785">'
                     f'{_e(tick_format(tick))}</text>')
    parts.append("</g>")
    zero = _num(frame.y(0))
    parts.append(f'<line class="chart-axis" x1="{_num(frame.left)}" '
                 f'x2="{_num(frame.width - frame.right)}" y1="{zero}" y2="{zero}" stroke="#6b7785"/>')
    if y_label:
        cy = _num(frame.top + frame.plot_h / 2)
        parts.append(f'<text class="chart-axis-label" x="12" y="{cy}" text-anchor="middle" '
                     f'transform="rotate(-90 12 {cy})" fill="#6b7785">{_e(y_label)}</text>')
    if x_label:
        parts.append(f'<text class="chart-axis-label" x="{_num(frame.left + frame.plot_w / 2)}" '
                     f'y="{frame.height - 4}" text-anchor="middle" fill="#6b7785">{_e(x_label)}</text>')
    return parts


def _x_labels(frame: _Frame, labels: Sequence[str], centres: list[float]) -> list[str]:
    parts = ['<g class="chart-labels">']
    base = frame.height - frame.bottom + 16
    for label, x in zip(labels, centres, strict=True):
        lines = str(label).split("\n")
        spans = "".join(f'<tspan x="{_num(x)}" dy="{0 if i == 0 else 13}">{_e(line)}</tspan>'
                        for i, line in enumerate(lines))
        parts.append(f'<text class="chart-label" x="{_num(x)}" y="{_num(base)}" '
                     f'text-anchor="middle" fill="#1f2933">{spans}</text>')
    parts.append("</g>")
    return parts


def _legend(frame: _Frame, series: Sequence[Series]) -> list[str]:
    parts = ['<g class="chart-legend">']
    x = frame.left
    for index, s in enumerate(series):
        css = " ".join(c for c in (f"series-{index}", _css(s.css)) if c)
        parts.append(f'<g class="legend-item {css}"><rect x="{_num(x)}" y="8" width="10" '
                     f'height="10" fill="#2563eb"/><text x="{_num(x + 14)}" y="17" '
                     f'fill="#1f2933">{_e(s.name)}</text></g>')
        x += 28 + 7 * len(s.name)
    parts.append("</g>")
    return parts


def _label_text(label: str) -> str:
    return " ".join(str(label).split("\n"))


def _describe(labels: Sequence[str], series: Sequence[Series], value_format: Callable) -> str:
    items = []
    for i, label in enumerate(labels):
        values = []
        for s in series:
            v = s.values[i]
            text = "—" if v is None else str(value_format(v))
            values.append(f"{s.name} {text}" if len(series) > 1 else text)
        items.append(f"{_label_text(label)}: {', '.join(values)}")
    return "; ".join(items)


def _is_integer(values: list[Number]) -> bool:
    return all(isinstance(v, int) or (isinstance(v, Decimal) and v == v.to_integral_value())
               for v in values)


def _check(labels: Sequence[str], series: Sequence[Series]) -> None:
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r}: {len(s.values)} values for {len(labels)} labels")


# -- charts -----------------------------------------------------------------------------------


def bar_chart(labels: Sequence[str], values: Sequence[Number | None], *, title: str,
              x_label: str | None = None, y_label: str | None = None,
              value_format: Callable[[Number], str] = _plain,
              tick_format: Callable[[Decimal], str] | None = None,
              classes: Sequence[str] | None = None, show_values: bool = True,
              label_format: Callable[[Number], str] | None = None,
              width: int = WIDTH, height: int = HEIGHT, empty_text: str = "No data",
              chart_id: str | None = None, css: str = "") -> Markup:
    """One bar per label (``classes[i]`` added to bar i's class), its value above it (below
    for a negative value; written by ``label_format``, default ``value_format``) unless
    ``show_values`` is false."""
    series = [Series(title, list(values))]
    _check(labels, series)
    ident = _ident(chart_id, title, labels)
    if not labels:
        return _empty(ident, "bar", css, width, height, title, empty_text)
    tick_format = tick_format or value_format
    data = _values(values)
    frame = _frame(data, width, height, tick_format, y_label, x_label, False, _is_integer(data))
    parts = _open(ident, "bar", css, width, height, title, _describe(labels, series, value_format))
    parts += _axes(frame, tick_format, x_label, y_label)
    slot = frame.plot_w / len(labels)
    bar_w = max(2.0, min(slot * 0.64, 64.0))
    centres = [frame.left + slot * (i + 0.5) for i in range(len(labels))]
    zero = frame.y(0)
    parts.append('<g class="chart-bars">')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        if value is None:
            continue
        extra = _css(classes[i]) if classes and i < len(classes) else ""
        y = frame.y(value)
        top, bar_h = min(y, zero), abs(zero - y)
        text = value_format(value)
        cls = " ".join(c for c in ("bar", "negative" if value < 0 else "", extra) if c)
        parts.append(f'<g class="{cls}"><title>{_e(_label_text(label))}: {_e(text)}</title>'
                     f'<rect x="{_num(centres[i] - bar_w / 2)}" y="{_num(top)}" '
                     f'width="{_num(bar_w)}" height="{_num(bar_h)}" fill="#2563eb"/>')
        if show_values:
            ty = top - 4 if value >= 0 else top + bar_h + 12
            shown = label_format(value) if label_format else text
            parts.append(f'<text class="chart-value" x="{_num(centres[i])}" y="{_num(ty)}" '
                         f'text-anchor="middle" fill="#1f2933">{_e(shown)}</text>')
        parts.append("</g>")
    parts.append("</g>")
    parts += _x_labels(frame, labels, centres)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(labels: Sequence[str], values: Sequence[Number | None] | Sequence[Series], *,
               title: str, area: bool = False, x_label: str | None = None,
               y_label: str | None = None, value_format: Callable[[Number], str] = _plain,
               tick_format: Callable[[Decimal], str] | None = None,
               width: int = WIDTH, height: int = HEIGHT, empty_text: str = "No data",
               chart_id: str | None = None, css: str = "") -> Markup:
    """A line per series (``values``: numbers for one series, or ``Series`` objects) with a
    point per value; ``area`` fills below each line down to zero. ``None`` breaks a line."""
    series = (list(values) if values and all(isinstance(v, Series) for v in values)
              else [Series(title, list(values))])
    _check(labels, series)
    ident = _ident(chart_id, title, labels)
    if not labels:
        return _empty(ident, "line", css, width, height, title, empty_text)
    tick_format = tick_format or value_format
    data = [v for s in series for v in _values(s.values)]
    legend = len(series) > 1
    frame = _frame(data, width, height, tick_format, y_label, x_label, legend, _is_integer(data))
    kind = "area" if area else "line"
    parts = _open(ident, kind, css, width, height, title, _describe(labels, series, value_format))
    parts += _axes(frame, tick_format, x_label, y_label)
    slot = frame.plot_w / len(labels)
    centres = [frame.left + slot * (i + 0.5) for i in range(len(labels))]
    zero = _num(frame.y(0))
    for index, s in enumerate(series):
        css_s = " ".join(c for c in ("series", f"series-{index}", _css(s.css)) if c)
        parts.append(f'<g class="{css_s}">')
        runs: list[list[tuple[float, float]]] = [[]]
        for x, v in zip(centres, s.values, strict=True):
            if v is None:
                runs.append([])
            else:
                runs[-1].append((x, frame.y(v)))
        for run in (r for r in runs if r):
            points = " ".join(f"{_num(x)},{_num(y)}" for x, y in run)
            if area:
                poly = f"{_num(run[0][0])},{zero} {points} {_num(run[-1][0])},{zero}"
                parts.append(f'<polygon class="chart-area" points="{poly}" fill="#2563eb" '
                             f'fill-opacity="0.15"/>')
            parts.append(f'<polyline class="chart-line" points="{points}" fill="none" '
                         f'stroke="#2563eb" stroke-width="2"/>')
        for label, x, v in zip(labels, centres, s.values, strict=True):
            if v is None:
                continue
            name = f"{s.name} " if legend else ""
            parts.append(f'<circle class="chart-point" cx="{_num(x)}" cy="{_num(frame.y(v))}" '
                         f'r="3.5" fill="#2563eb"><title>{_e(name)}{_e(_label_text(label))}: '
                         f'{_e(value_format(v))}</title></circle>')
        parts.append("</g>")
    if legend:
        parts += _legend(frame, series)
    parts += _x_labels(frame, labels, centres)
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bar_chart(labels: Sequence[str], series: Sequence[Series], *, title: str,
                      x_label: str | None = None, y_label: str | None = None,
                      value_format: Callable[[Number], str] = _plain,
                      tick_format: Callable[[Decimal], str] | None = None,
                      width: int = WIDTH, height: int = HEIGHT, empty_text: str = "No data",
                      chart_id: str | None = None, css: str = "") -> Markup:
    """One bar per label made of a segment per series (positive values stacked up from zero,
    negative ones down), with a legend."""
    series = list(series)
    _check(labels, series)
    ident = _ident(chart_id, title, labels)
    if not labels or not series:
        return _empty(ident, "stacked", css, width, height, title, empty_text)
    tick_format = tick_format or value_format
    ups = [sum((v for s in series if (v := s.values[i]) is not None and v > 0), 0)
           for i in range(len(labels))]
    downs = [sum((v for s in series if (v := s.values[i]) is not None and v < 0), 0)
             for i in range(len(labels))]
    data = [*ups, *downs]
    frame = _frame(data, width, height, tick_format, y_label, x_label, True,
                   _is_integer([v for s in series for v in _values(s.values)]))
    parts = _open(ident, "stacked", css, width, height, title, _describe(labels, series, value_format))
    parts += _axes(frame, tick_format, x_label, y_label)
    slot = frame.plot_w / len(labels)
    bar_w = max(2.0, min(slot * 0.64, 64.0))
    centres = [frame.left + slot * (i + 0.5) for i in range(len(labels))]
    parts.append('<g class="chart-bars">')
    for i, label in enumerate(labels):
        up: Number = 0
        down: Number = 0
        for index, s in enumerate(series):
            v = s.values[i]
            if v is None or v == 0:
                continue
            if v > 0:
                y0, y1, up = frame.y(up), frame.y(up + v), up + v
            else:
                y0, y1, down = frame.y(down + v), frame.y(down), down + v
            top, seg_h = min(y0, y1), abs(y0 - y1)
            cls = " ".join(c for c in ("bar", f"series-{index}", _css(s.css)) if c)
            parts.append(f'<g class="{cls}"><title>{_e(_label_text(label))}, {_e(s.name)}: '
                         f'{_e(value_format(v))}</title><rect x="{_num(centres[i] - bar_w / 2)}" '
                         f'y="{_num(top)}" width="{_num(bar_w)}" height="{_num(seg_h)}" '
                         f'fill="#2563eb"/></g>')
    parts.append("</g>")
    parts += _legend(frame, series)
    parts += _x_labels(frame, labels, centres)
    parts.append("</svg>")
    return Markup("".join(parts))
