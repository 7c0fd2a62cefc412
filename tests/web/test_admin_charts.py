"""The SVG chart helper: bars scaled to the series, labels escaped, an empty series said."""

from __future__ import annotations

import re

from web.admin.charts import bar_chart


def test_bars_are_scaled_to_the_largest_value():
    svg = bar_chart([("a", 1), ("b", 4), ("c", 0)], title="Orders", height=120)

    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 3
    assert heights[1] == max(heights) and heights[0] == heights[1] / 4 and heights[2] == 0
    assert "<title>b: 4</title>" in svg and "max 4" in svg


def test_labels_and_title_are_escaped():
    svg = bar_chart([("<script>alert(1)</script>", 2)], title='x" onload="evil()')

    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'onload="evil()"' not in svg and "&#34;" in svg


def test_an_empty_series_says_no_data():
    svg = bar_chart([], title="Nothing")

    assert svg.startswith("<svg") and "No data" in svg and "<rect" not in svg


def test_an_all_zero_series_draws_flat_bars():
    svg = bar_chart([("a", 0), ("b", 0)], title="Zero", unit=" s")

    assert re.findall(r'<rect [^>]*height="([\d.]+)"', svg) == ["0.0", "0.0"]
    assert "max 0 s" in svg
