"""Charts drawn on the server as SVG, for the web pages and the PDF reports alike.

Drawn by pygal (maintained, pure Python, SVG out, on PyPI): its SVG renders the same in a
browser and in WeasyPrint's SVG renderer, its style takes a font family (Noto Sans CJK SC, the
font the PDFs embed, so Chinese labels are legible), and its JavaScript (tooltips) is off: the
SVG has no script, only a <style> that the page gives the CSP nonce (`Chart.markup(nonce)`).

Every chart carries its numbers as a table (`headers`, `rows`, already formatted), which
components/chart.html prints visually hidden under the SVG for screen readers, and which the
SVG's own <title> names (role="img" with aria-label = the caption).

Values are plain numbers (fen for money: pass `money=True` and they are shown in yuan).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

from markupsafe import Markup, escape

from db.money import yuan_text

FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"
# Indigo (the app's brand) first, then colours that stay apart in grey print.
PALETTE = ("#4f46e5", "#0ea5a4", "#f59e0b", "#ef4444", "#8b5cf6", "#10b981", "#64748b",
           "#ec4899", "#0284c7", "#a3a3a3")

Number = int | float


def count_text(n: Number) -> str:
    return f"{int(n):,}" if float(n).is_integer() else f"{n:,.1f}"


def permille_text(n: Number) -> str:
    """A share in permille (int) as a percentage with one decimal: 125 -> 12.5%."""
    return f"{int(n) / 10:.1f}%"


FORMATS: dict[str, Callable[[Number], str]] = {
    "count": count_text, "money": yuan_text, "permille": permille_text,
}


@dataclass(frozen=True)
class Chart:
    kind: str  # bar | hbar | stacked | line | donut
    caption: str  # what the chart shows; the SVG's accessible name
    svg: str  # the SVG (no script, no XML declaration); its <style> gets a nonce in markup()
    headers: tuple[str, ...]  # the accessible table: the label column, then one per series
    rows: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    empty: bool = False  # no data: the page shows empty_text instead of the SVG; no table rows
    empty_text: str = ""

    def markup(self, nonce: str = "") -> Markup:
        """The SVG for a page: with the CSP nonce on its <style> (the app's CSP allows no
        inline style without one); in a PDF the nonce is irrelevant and may be empty."""
        svg = self.svg
        if nonce:
            svg = svg.replace("<style", f'<style nonce="{escape(nonce)}"', 1)
        return Markup(svg)

    def __html__(self) -> str:  # {{ chart }} in a print template
        return str(self.markup())


def _style(colors: Sequence[str] = PALETTE):
    from pygal.style import Style  # imported here: pygal's import costs ~60 ms

    return Style(
        font_family=FONT,
        background="transparent",
        plot_background="transparent",
        foreground="#3f4654",
        foreground_strong="#15181e",
        foreground_subtle="#c9ced6",
        opacity=".92",
        opacity_hover=".92",
        transition="0ms",
        colors=tuple(colors),
        label_font_size=13,
        major_label_font_size=13,
        value_font_size=12,
        value_label_font_size=12,
        legend_font_size=13,
        title_font_size=15,
        tooltip_font_size=12,
        no_data_font_size=18,
        guide_stroke_color="#dde1e6",
        guide_stroke_dasharray="0",
        major_guide_stroke_color="#c9ced6",
        major_guide_stroke_dasharray="0",
        stroke_width="2.5",
        stroke_width_hover="2.5",
        stroke_opacity="1",
        stroke_opacity_hover="1",
    )


_COMMENTS = re.compile(r"<!--.*?-->", re.S)
# pygal writes its config as a <script> even when `js` is empty: the SVG carries no script.
_SCRIPTS = re.compile(r"<script\b.*?</script>", re.S)
# Style attributes are inline style too (the CSP refuses them): presentation attributes instead.
_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')


def _presentation(match: re.Match) -> str:
    out = []
    for decl in match.group(1).split(";"):
        name, _, value = decl.partition(":")
        name, value = name.strip(), value.strip()
        if re.fullmatch(r"[a-z-]+", name) and value and '"' not in value:
            out.append(f' {name}="{value}"')
    return "".join(out)


def _render(chart, caption: str) -> str:
    svg = chart.render(is_unicode=True)
    svg = _STYLE_ATTR.sub(_presentation, _SCRIPTS.sub("", _COMMENTS.sub("", svg)))
    # The accessible name: role="img" + aria-label, and a <title> first (pygal writes none
    # when the chart has no title of its own; ours are in the page's heading).
    label = escape(caption)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
    head_end = svg.index(">") + 1
    return svg[:head_end] + f"<title>{label}</title>" + svg[head_end:]


def _config(kind: str, *, width: int, height: int, legend: bool, fmt: Callable[[Number], str],
            empty_text: str, scale: float = 1.0, **extra):
    import pygal

    classes = {"bar": pygal.Bar, "hbar": pygal.HorizontalBar, "stacked": pygal.StackedBar,
               "hstacked": pygal.HorizontalStackedBar, "line": pygal.Line, "donut": pygal.Pie}
    return classes[kind](
        style=_style(extra.pop("colors", PALETTE)),
        width=width,
        height=height,
        js=[],  # no script in the SVG (CSP: scripts need a nonce)
        disable_xml_declaration=True,
        show_legend=legend,
        legend_at_bottom=True,
        legend_at_bottom_columns=extra.pop("legend_columns", None),
        legend_box_size=11,
        truncate_legend=-1,
        truncate_label=-1,
        margin=8,
        spacing=10,
        print_values=False,
        tooltip_border_radius=0,
        no_data_text=empty_text,
        max_scale=6,
        value_formatter=lambda v: fmt(v * scale) if v is not None else "",
        **extra,
    )


def _table(labels: Sequence[str], series: dict[str, Sequence[Number]], label_header: str,
           fmt: Callable[[Number], str]) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    headers = (label_header, *series.keys())
    rows = tuple(
        (str(label), *(fmt(values[i]) for values in series.values()))
        for i, label in enumerate(labels)
    )
    return headers, rows


def count_ticks(top: Number, most: int = 6) -> list[int]:
    """Whole-number ticks from 0 to `top` or just past it, in steps of 1, 2 or 5 times a power of ten (a count
    axis read 0.8, 1.6, 2.4 otherwise)."""
    step = 1
    while top / step > most - 1:
        for factor in (2, 2.5, 2):  # 1 -> 2 -> 5 -> 10 -> 20 ...
            step = int(step * factor)
            if top / step <= most - 1:
                break
    return list(range(0, -(-int(top) // step) * step + 1, step)) if top > 0 else [0, 1]


def _linked(value: Number, links: Sequence[str | None] | None, i: int):
    """A value as pygal takes it, with the link its segment opens (pygal wraps the bar or
    slice in an <a>; target _top so a link inside an HTMX-swapped block opens the page)."""
    href = links[i] if links and i < len(links) else None
    return {"value": value, "xlink": {"href": href, "target": "_top"}} if href else value


def _is_empty(series: dict[str, Sequence[Number]]) -> bool:
    return not series or all(not any(v for v in values) for values in series.values())


def bar(caption: str, labels: Sequence[str], series: dict[str, Sequence[Number]], *,
        label_header: str = "", unit: str = "count", horizontal: bool = False,
        stacked: bool = False, width: int = 640, height: int = 300,
        empty_text: str = "No data", timeline: bool = False,
        links: Sequence[str | None] | dict[str, Sequence[str | None]] | None = None) -> Chart:
    """Bars per label, one colour per series (several series side by side, or `stacked`);
    `horizontal` for long labels (provinces, people). `unit`: count | money (fen) | permille.
    `timeline`: the labels are days or months, and when more than fit flat only every n-th
    is written (categories are always all written). `links`: per label, the page its bars
    open (the list behind the figure), or None; or such a list per series name."""
    fmt = FORMATS[unit]
    kind = ("hstacked" if stacked else "hbar") if horizontal else ("stacked" if stacked else "bar")
    fit = max(4, width // 75) if timeline else len(labels)
    scale = 100 if unit == "money" else (10 if unit == "permille" else 1)
    chart = _config(kind, width=width, height=height, legend=len(series) > 1, fmt=fmt,
                    empty_text=empty_text, scale=scale,
                    x_label_rotation=0 if timeline or horizontal or len(labels) <= 8 else 30,
                    # more labels than fit flat (about one per 75 px): every n-th labelled
                    # (the table under the chart has them all)
                    show_minor_x_labels=horizontal or len(labels) <= fit,
                    x_labels_major_every=None if horizontal or len(labels) <= fit
                    else -(-len(labels) // fit))
    chart.x_labels = [str(x) for x in labels]
    empty = _is_empty(series)
    if not empty:
        for name, values in series.items():
            own = links.get(name) if isinstance(links, dict) else links
            chart.add(name, [_linked(v / scale, own, i) for i, v in enumerate(values)])
        if unit == "count":
            top = (max(map(sum, zip(*series.values()))) if stacked
                   else max(max(v) for v in series.values()))
            chart.y_labels = count_ticks(top)
    headers, rows = _table(labels, series, label_header, fmt)
    return Chart(kind, caption, _render(chart, caption), headers, rows if not empty else (),
                 empty, empty_text)


def line(caption: str, labels: Sequence[str], series: dict[str, Sequence[Number | None]], *,
         label_header: str = "", unit: str = "count", width: int = 640, height: int = 280,
         empty_text: str = "No data") -> Chart:
    """Lines over time (labels are the periods); None leaves a gap."""
    fmt = FORMATS[unit]
    scale = 100 if unit == "money" else (10 if unit == "permille" else 1)
    step = max(1, len(labels) // 12)
    chart = _config("line", width=width, height=height, legend=len(series) > 1, fmt=fmt,
                    empty_text=empty_text, scale=scale, dots_size=2.5,
                    show_minor_x_labels=False, x_labels_major_every=step,
                    x_label_rotation=0 if len(labels) <= 12 else 30, allow_interruptions=True,
                    include_x_axis=True)
    chart.x_labels = [str(x) for x in labels]
    clean = {k: [v or 0 for v in vs] for k, vs in series.items()}
    empty = _is_empty(clean)
    if not empty:
        for name, values in series.items():
            chart.add(name, [None if v is None else v / scale for v in values])
    headers, rows = _table(labels, {k: [v or 0 for v in vs] for k, vs in series.items()},
                           label_header, fmt)
    return Chart("line", caption, _render(chart, caption), headers, rows if not empty else (),
                 empty, empty_text)


def donut(caption: str, slices: Sequence[tuple[str, Number]], *, label_header: str = "",
          value_header: str = "", unit: str = "count", width: int = 420, height: int = 330,
          empty_text: str = "No data", links: Sequence[str | None] | None = None) -> Chart:
    """Shares of a whole (a ring with a legend); the table adds each slice's percentage.
    `links`: per slice, the page it opens, or None."""
    fmt = FORMATS[unit]
    scale = 100 if unit == "money" else (10 if unit == "permille" else 1)
    total = sum(v for _, v in slices)
    columns = 3 if len(slices) > 4 else (2 if len(slices) > 1 else 1)
    chart = _config("donut", width=width, height=height, legend=True, fmt=fmt,
                    empty_text=empty_text, scale=scale, inner_radius=0.55,
                    legend_columns=columns,
                    # pygal reserves one legend row under the plot: room for the others
                    margin_bottom=8 + 20 * (-(-len(slices) // columns) - 1))
    empty = total <= 0
    if not empty:
        for i, (name, value) in enumerate(slices):
            share = f" {value * 100 / total:.0f}%" if total else ""
            chart.add(f"{name}{share}", [_linked(value / scale, links, i)])
    rows = tuple((str(name), fmt(value), f"{value * 100 / total:.1f}%" if total else "—")
                 for name, value in slices)
    return Chart("donut", caption, _render(chart, caption),
                 (label_header, value_header, "%"), rows if not empty else (), empty, empty_text)
