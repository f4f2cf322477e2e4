"""reports/charts.py: server-drawn SVG charts for the pages and the PDFs."""

from __future__ import annotations

import re

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape

from db.settings import ROOT
from reports import charts


def _all():
    return [
        charts.bar("每月销售额", ["1月", "2月"], {"销售额": [123456, 99]}, unit="money",
                   label_header="月份"),
        charts.bar("渠道", ["天猫", "京东"], {"新客": [3, 4], "老客": [5, 6]}, stacked=True),
        charts.bar("省份", ["广东省", "浙江省"], {"客户": [5, 3]}, horizontal=True),
        charts.line("复购率", ["2026-01", "2026-02"], {"复购率": [125, 90]}, unit="permille"),
        charts.donut("生命周期", [("新客户", 1), ("活跃", 3)], label_header="阶段",
                     value_header="客户数"),
    ]


@pytest.mark.parametrize("chart", _all(), ids=lambda c: c.kind)
def test_svg_has_no_script_names_the_cjk_font_and_is_labelled(chart):
    svg = chart.svg
    assert svg.startswith("<svg")
    assert "<script" not in svg and "javascript" not in svg.lower()
    assert "Noto Sans CJK SC" in svg
    assert f'aria-label="{chart.caption}"' in svg and f"<title>{chart.caption}</title>" in svg


def test_table_holds_the_numbers_formatted():
    money, stacked, _, rate, ring = _all()
    assert money.headers == ("月份", "销售额")
    assert money.rows == (("1月", "¥1,234.56"), ("2月", "¥0.99"))
    assert stacked.rows == (("天猫", "3", "5"), ("京东", "4", "6"))
    assert rate.rows == (("2026-01", "12.5%"), ("2026-02", "9.0%"))
    assert ring.rows == (("新客户", "1", "25.0%"), ("活跃", "3", "75.0%"))


def test_empty_chart_says_so_and_has_no_rows():
    chart = charts.bar("空", ["a"], {"x": [0]}, empty_text="暂无数据")
    assert chart.empty and chart.rows == () and chart.empty_text == "暂无数据"
    env = Environment(loader=FileSystemLoader(str(ROOT)), autoescape=select_autoescape(default=True))
    html = str(env.get_template("components/chart.html").module.chart(chart))
    assert '<p class="chart-empty">暂无数据</p>' in html and "<svg" not in html


def test_hostile_labels_are_escaped():
    chart = charts.bar("<script>alert(1)</script>", ["<img src=x>"], {"<b>": [1]})
    assert "<script>alert" not in chart.svg and "<img src=x>" not in chart.svg
    assert "&lt;img src=x&gt;" in chart.svg


def test_nonce_goes_on_the_style_only_in_the_page():
    chart = _all()[0]
    assert 'nonce="abc"' in chart.markup("abc")
    assert "nonce" not in chart.markup()


def test_component_prints_svg_and_hidden_table():
    env = Environment(loader=FileSystemLoader(str(ROOT)), autoescape=select_autoescape(default=True))
    macro = env.get_template("components/chart.html").module.chart
    html = str(macro(_all()[0], nonce="n1"))
    assert '<table class="sr-only">' in html and "<th scope=\"row\">1月</th>" in html
    assert "<td>¥1,234.56</td>" in html and 'nonce="n1"' in html
    assert html.count("<svg") == 1


def test_renders_in_weasyprint():
    import weasyprint
    from pypdf import PdfReader
    import io

    body = "".join(str(c) for c in _all())
    pdf = weasyprint.HTML(string=f"<html><body>{body}</body></html>").write_pdf()
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert re.search(r"1\s*月", text)  # the axis labels are real text in the CJK font


@pytest.mark.parametrize("chart", _all(), ids=lambda c: c.kind)
def test_svg_has_no_style_attributes(chart):
    # the app's CSP (style-src with a nonce) refuses style="…" attributes
    assert not re.search(r'\sstyle="', chart.svg)


def test_a_count_axis_has_whole_numbers():
    from reports.charts import bar, count_ticks

    assert count_ticks(3) == [0, 1, 2, 3] and count_ticks(7) == [0, 2, 4, 6, 8]
    assert count_ticks(140) == [0, 50, 100, 150] and count_ticks(0) == [0, 1]
    svg = str(bar("Follow-ups", ["王芳", "李雷"], {"Done": [3, 2], "Overdue": [2, 1]},
                  horizontal=True).markup())
    axis = re.findall(r"<text[^>]*>([0-9.]+)</text>", svg)  # the value axis' labels
    assert axis == ["0", "1", "2", "3"]


def test_a_segment_opens_the_list_behind_it():
    bars = charts.bar("Members by tier", ["Silver", "Gold"], {"Members": [3, 4]}, horizontal=True,
                      links=["/customers?tier=1", None])
    assert re.findall(r'<a [^>]*xlink:href="([^"]*)"', bars.svg) == ["/customers?tier=1"]
    ring = charts.donut("Stages", [("New", 1), ("Active", 2)],
                        links=["/customers?lifecycle=new&team=2", "/customers?lifecycle=active"])
    assert re.findall(r'<a [^>]*xlink:href="([^"]*)"', ring.svg) == [
        "/customers?lifecycle=new&amp;team=2", "/customers?lifecycle=active"]
    assert 'target="_top"' in ring.svg
