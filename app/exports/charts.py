"""Charts from the Synthèse: PNG through matplotlib (Word dossier), SVG markup (dashboard)."""

from __future__ import annotations

import io

from markupsafe import Markup, escape

from app.exports.summary import StatTable, Summary

CHARTED = ("primary", "month", "remedies", "prefecture")
TOP = 12  # bars per chart: the rest is in the tables


def _series(table: StatTable) -> list[tuple[str, float | None, str]]:
    """(label, value, text shown). A hidden count (« < 5 ») has no value: it is drawn as nothing
    and labelled as hidden, never as a number (not even zero)."""
    column = table.chart if table.chart is not None else 1
    rows = []
    for r in table.rows:
        value = r[column]
        if isinstance(value, int | float):
            rows.append((str(r[0]), float(value), f"{value:.0f}"))
        else:
            rows.append((str(r[0]), None, str(value or "—")))
    if table.key != "month":
        rows = rows[:TOP]
    return rows


def png_charts(summary: Summary) -> list[tuple[str, bytes]]:
    """(title, PNG bytes) for each charted table that has data."""
    import matplotlib

    matplotlib.use("Agg")  # no display, thread-safe enough for one figure at a time
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    charts = []
    for key in CHARTED:
        table = summary.table(key)
        series = _series(table)
        if not series:
            continue
        labels = [label if len(label) <= 45 else label[:44] + "…" for label, _, _ in series]
        values = [float("nan") if v is None else v for _, v, _ in series]  # NaN: a gap in the line
        figure = Figure(figsize=(7.5, 0.35 * len(series) + 1.4 if key != "month" else 3.6), dpi=130)
        axes = figure.subplots()
        if key == "month":
            axes.plot(labels, values, marker="o", color="#1f4e79")
            axes.set_ylabel("Nouveaux dossiers")
            axes.tick_params(axis="x", labelrotation=45, labelsize=7)
            axes.set_ylim(bottom=0)
        else:
            positions = list(range(len(labels)))[::-1]
            axes.barh(positions, [0.0 if v != v else v for v in values], color="#1f4e79")
            axes.set_yticks(positions, labels, fontsize=8)
            axes.set_xlabel(table.headers[table.chart or 1])
            for y, (_, v, shown) in zip(positions, series, strict=True):
                axes.text(v or 0, y, f" {shown}", va="center", fontsize=7)
        (axes.yaxis if key == "month" else axes.xaxis).set_major_locator(MaxNLocator(integer=True))
        axes.set_title(table.title, fontsize=10)
        axes.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        charts.append((table.title, buffer.getvalue()))
    return charts


def svg_bars(table: StatTable, *, width: int = 560) -> Markup:
    """A horizontal bar chart as inline SVG: presentation attributes only (CSP forbids inline styles)."""
    series = _series(table)
    if not series:
        return Markup('<p class="muted">Aucune donnée.</p>')
    bar, gap, label_w = 18, 6, 230
    height = len(series) * (bar + gap) + 10
    top = max((v for _, v, _ in series if v is not None), default=0) or 1
    span = width - label_w - 50
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
             f'aria-label="{escape(table.title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(table.title)}</title>"]
    for i, (label, value, shown) in enumerate(series):
        y = 5 + i * (bar + gap)
        w = max(1, round(span * value / top)) if value else 0
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end" font-size="12" fill="#222">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar}" fill="#1f4e79"><title>{escape(label)} : {escape(shown)}</title></rect>'
            f'<text x="{label_w + w + 4}" y="{y + bar - 5}" font-size="12" fill="#222">{escape(shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text above went through escape())


def svg_line(table: StatTable, *, width: int = 560, height: int = 200) -> Markup:
    """Month-by-month counts as an inline SVG polyline with labelled points."""
    series = _series(table)
    if not series:
        return Markup('<p class="muted">Aucune donnée.</p>')
    left, bottom, top_pad = 36, 40, 12
    top = max((v for _, v, _ in series if v is not None), default=0) or 1
    step = (width - left - 10) / max(1, len(series) - 1)
    points = [(left + i * step, None if v is None else top_pad + (height - bottom - top_pad) * (1 - v / top))
              for i, (_, v, _) in enumerate(series)]
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
             f'aria-label="{escape(table.title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(table.title)}</title>",
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" stroke="#888"/>',
             f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end" font-size="11" fill="#222">{top:.0f}</text>',
             f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end" font-size="11" fill="#222">0</text>']
    # One polyline per run of shown values: a hidden month breaks the line.
    runs, current = [], []
    for x, y in points:
        if y is None:
            runs, current = runs + [current], []
        else:
            current.append((x, y))
    for run in runs + [current]:
        if len(run) > 1:
            parts.append('<polyline fill="none" stroke="#1f4e79" stroke-width="2" points="'
                         + " ".join(f"{x:.1f},{y:.1f}" for x, y in run) + '"/>')
    every = -(-len(series) // 8)  # at most 8 month labels: readable on a phone
    for i, ((label, _value, shown), (x, y)) in enumerate(zip(series, points, strict=True)):
        if y is None:
            parts.append(f'<text x="{x:.1f}" y="{height - bottom - 4}" text-anchor="middle" font-size="10" '
                         f'fill="#555"><title>{escape(label)} : {escape(shown)}</title>{escape(shown)}</text>')
        else:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1f4e79"><title>{escape(label)} : '
                         f'{escape(shown)}</title></circle>')
        if i % every == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle" font-size="12" '
                         f'fill="#222">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text above went through escape())


def dashboard_charts(summary: Summary) -> list[tuple[str, Markup]]:
    """The dashboard's and the public page's charts, in order."""
    return [(summary.table("primary").title, svg_bars(summary.table("primary"))),
            (summary.table("remedies").title, svg_bars(summary.table("remedies"))),
            (summary.table("month").title, svg_line(summary.table("month"))),
            (summary.table("prefecture").title, svg_bars(summary.table("prefecture")))]
