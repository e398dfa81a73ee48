"""core.web.charts: inline SVG charts (pure functions, no database)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from markupsafe import Markup

from core.web.charts import Series, bar_chart, line_chart, nice_scale, stacked_bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: Markup) -> ET.Element:
    """The chart as XML (it must be well-formed)."""
    return ET.fromstring(str(svg))


def bars(root: ET.Element) -> list[tuple[str, float]]:
    """(tooltip, height) of every bar."""
    out = []
    for g in root.iter(f"{SVG}g"):
        if "bar" in (g.get("class") or "").split():
            out.append((g.find(f"{SVG}title").text, float(g.find(f"{SVG}rect").get("height"))))
    return out


def test_bar_chart_values_labels_and_accessibility():
    svg = bar_chart(["Not due", "1–30"], [Decimal("1200.50"), Decimal("300")], title="Aging",
                    x_label="Days", y_label="Amount", value_format=lambda v: f"¥{v:,.2f}",
                    classes=["tone-ok", "tone-bad"], chart_id="aging")
    assert isinstance(svg, Markup)
    root = parse(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "aging-title aging-desc"
    assert root.find(f"{SVG}title").text == "Aging"
    assert root.find(f"{SVG}desc").text == "Not due: ¥1,200.50; 1–30: ¥300.00"
    (first, h1), (second, h2) = bars(root)
    assert (first, second) == ("Not due: ¥1,200.50", "1–30: ¥300.00")
    assert h1 == pytest.approx(h2 * 1200.5 / 300, rel=1e-3)  # heights follow the values
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Days" in texts and "Amount" in texts and "¥1,200.50" in texts
    assert 'class="bar tone-ok"' in svg and 'class="bar tone-bad"' in svg
    assert "style=" not in svg and "<script" not in svg


def test_labels_titles_and_classes_are_escaped():
    evil = '<script>alert("x")</script> & "quotes"'
    svg = bar_chart([evil], [1], title=evil, x_label=evil, y_label=evil,
                    classes=['x" onmouseover="alert(1)'], value_format=lambda v: evil)
    assert "<script>" not in svg and 'onmouseover="' not in svg
    root = parse(svg)  # still well-formed XML
    assert root.find(f"{SVG}title").text == evil  # the text itself survives, escaped
    for chart in (line_chart([evil], [Series(evil, [1]), Series("b", [2])], title=evil),
                  stacked_bar_chart([evil], [Series(evil, [1])], title=evil)):
        assert "<script>" not in chart
        assert parse(chart).find(f"{SVG}title").text == evil


def test_zero_negative_missing_and_empty_data():
    zeros = parse(bar_chart(["a", "b"], [0, 0], title="zeros"))
    assert [h for _t, h in bars(zeros)] == [0, 0]
    ticks = [t.text for t in zeros.iter(f"{SVG}text") if t.get("class") == "chart-tick"]
    assert ticks[0] == "0" and len(ticks) > 1  # an axis from 0 even with nothing to show

    mixed = parse(bar_chart(["up", "down", "none"], [Decimal("5"), Decimal("-3"), None],
                            title="mixed"))
    (up, h_up), (down, h_down) = bars(mixed)  # no bar for a missing value
    assert (up, down) == ("up: 5", "down: -3") and h_up == pytest.approx(h_down * 5 / 3, rel=1e-3)
    negative = [g for g in mixed.iter(f"{SVG}g") if "negative" in (g.get("class") or "")]
    assert len(negative) == 1
    axis = next(e for e in mixed.iter(f"{SVG}line") if e.get("class") == "chart-axis")
    rects = {g.find(f"{SVG}title").text: g.find(f"{SVG}rect") for g in mixed.iter(f"{SVG}g")
             if g.find(f"{SVG}rect") is not None and g.find(f"{SVG}title") is not None}
    zero_y = float(axis.get("y1"))
    assert float(rects["up: 5"].get("y")) + h_up == pytest.approx(zero_y)  # up from zero
    assert float(rects["down: -3"].get("y")) == pytest.approx(zero_y)      # down from zero

    line = parse(line_chart(["a", "b", "c"], [1, None, 3], title="gap", area=True))
    assert len(list(line.iter(f"{SVG}polyline"))) == 2  # the gap breaks the line
    assert len(list(line.iter(f"{SVG}circle"))) == 2

    for empty in (bar_chart([], [], title="E", empty_text="No data"),
                  line_chart([], [], title="E", empty_text="No data"),
                  stacked_bar_chart([], [], title="E", empty_text="No data")):
        root = parse(empty)
        assert [t.text for t in root.iter(f"{SVG}text")] == ["No data"]
        assert root.find(f"{SVG}desc").text == "No data"

    with pytest.raises(ValueError):
        bar_chart(["a", "b"], [1], title="mismatch")


def test_stacked_and_multi_line_charts_have_legends():
    svg = stacked_bar_chart(["Jan", "Feb"], [Series("CNY", [Decimal("10"), Decimal("20")]),
                                             Series("USD", [Decimal("5"), 0], css="usd")],
                            title="By currency")
    root = parse(svg)
    titles = [t for t, _h in bars(root)]
    assert titles == ["Jan, CNY: 10", "Jan, USD: 5", "Feb, CNY: 20"]  # no segment for 0
    legend = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "chart-legend"
              for t in g.iter(f"{SVG}text")]
    assert legend == ["CNY", "USD"] and "series-1 usd" in svg
    two = line_chart(["Q1", "Q2"], [Series("2025", [1, 2]), Series("2026", [2, 4])], title="Y")
    assert "<title>2026 Q2: 4</title>" in two and len(re.findall("<polyline", two)) == 2


def test_nice_scale():
    assert nice_scale(0, Decimal("123456.78")) == (0, Decimal("125000"), Decimal("25000"))
    assert nice_scale(-5, 3, integer=True) == (-6, 4, 2)
    assert nice_scale(0, 7, integer=True) == (0, 8, 2)
    assert nice_scale(0, 0) == (0, 1, Decimal("0.2"))
    assert nice_scale(0, 1, integer=True)[2] == 1  # counts: whole steps only
