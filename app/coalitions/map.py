"""A choropleth map of France by département, drawn as inline SVG on the server.

No tiles, no script, no external request: the outlines come from app/data/departements_map.json
(built by scripts/build_map.py from IGN Admin Express / INSEE data, Licence Ouverte — the map
credits « IGN, INSEE »). The app's CSP forbids style attributes and <style> elements, so the SVG
uses presentation attributes only.

Small counts are never drawn as numbers: a département whose count is None, or below the
threshold, is shown hatched as « moins de N dossiers ».
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from markupsafe import Markup, escape

from app.core import departements

MAP_FILE = Path(__file__).resolve().parent.parent / "data" / "departements_map.json"

# Overseas départements have no outline: they are drawn as a row of squares under the map.
OVERSEAS = ("971", "972", "973", "974", "976")

# ColorBrewer "Blues" (6 classes, lightest dropped so it cannot be mistaken for "no data"):
# sequential and colour-blind safe.
CLASS_COLOURS = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
NO_DATA = "#ececec"
HATCH_BG, HATCH_LINE = "#ffffff", "#7f7f7f"
BORDER = "#ffffff"
TEXT = "#1a1a1a"

# The SVG scales to the width of its container; text must stay at least 12 px when that width
# is 390 px (a phone), so font sizes are given in viewBox units accordingly.
MIN_WIDTH_PX, MIN_FONT_PX = 390, 12
ROW = 30  # legend line height (viewBox units)
SWATCH = 22
SQUARE = 46  # overseas square side
COLUMN = 120  # overseas column width


@cache
def _geometry() -> dict:
    return json.loads(MAP_FILE.read_text(encoding="utf-8"))


def _font_size(width: float) -> int:
    return math.ceil(MIN_FONT_PX * width / MIN_WIDTH_PX)


def _number(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")  # French: narrow no-break space between thousands


def _dossiers(n: int) -> str:
    return f"{_number(n)} dossier{'s' if n > 1 else ''}"


def _nice_floor(n: int) -> int:
    """A round class boundary at or below n (exact under 20)."""
    if n < 20:
        return n
    if n < 100:
        return n // 5 * 5
    step = 10 ** (len(str(n)) - 2)
    return n // step * step


def class_breaks(values: list[int], threshold: int) -> list[int]:
    """Lower bounds of up to five classes over the shown values (all >= threshold): roughly
    quintiles, rounded to readable numbers, always starting at the threshold."""
    if not values:
        return []
    ordered = sorted(values)
    breaks = [threshold]
    for q in (0.2, 0.4, 0.6, 0.8):
        candidate = _nice_floor(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)))])
        if candidate > breaks[-1] and candidate <= ordered[-1]:
            breaks.append(candidate)
    return breaks


def _class_labels(breaks: list[int], maximum: int) -> list[str]:
    labels = []
    for i, low in enumerate(breaks):
        high = breaks[i + 1] - 1 if i + 1 < len(breaks) else maximum
        labels.append(_dossiers(low) if high == low else f"{_number(low)} à {_dossiers(high)}")
    return labels


def _class_colours(count: int) -> list[str]:
    """`count` colours spread over the scale (all five when there are five classes)."""
    if count == 1:
        return [CLASS_COLOURS[2]]
    return [CLASS_COLOURS[round(i * (len(CLASS_COLOURS) - 1) / (count - 1))] for i in range(count)]


def france_map_svg(counts: Mapping[str, int | None], *, title: str, threshold: int) -> Markup:
    """The map as an inline <svg> (width 100 %, scales with its container).

    `counts` maps département codes to a number of cases, or None when the figure is masked
    (fewer than `threshold`). A number below the threshold is masked too; a département absent
    from `counts` (or at 0) reads « aucun dossier ».
    """
    geo = _geometry()
    width, map_height = geo["width"], geo["height"]
    font = _font_size(width)
    uid = "carte-" + hashlib.sha256(f"{title}|{threshold}".encode()).hexdigest()[:8]
    hatch = f"url(#{uid}-masque)"

    shown: dict[str, int] = {}
    masked: set[str] = set()
    for code, value in counts.items():
        code = str(code)
        if value is None or 0 < value < threshold:
            masked.add(code)
        elif value > 0:
            shown[code] = value

    breaks = class_breaks(list(shown.values()), threshold)
    colours = _class_colours(len(breaks)) if breaks else []
    labels = _class_labels(breaks, max(shown.values())) if breaks else []

    def fill(code: str) -> str:
        if code in masked:
            return hatch
        if code in shown:
            index = max(i for i, low in enumerate(breaks) if shown[code] >= low)
            return colours[index]
        return NO_DATA

    def tooltip(code: str, fallback_name: str = "") -> str:
        dep = departements.get(code)
        name = dep.nom if dep else fallback_name
        if code in masked:
            figure = f"moins de {_dossiers(threshold)}"
        elif code in shown:
            figure = _dossiers(shown[code])
        else:
            figure = "aucun dossier"
        return f"{code} – {name} : {figure}" if name else f"{code} : {figure}"

    parts: list[str] = []
    add = parts.append

    # Metropolitan départements.
    add(f'<g stroke="{BORDER}" stroke-width="0.8" stroke-linejoin="round" fill-rule="evenodd">')
    for code, shape in geo["departements"].items():
        add(
            f'<path d="{escape(shape["d"])}" fill="{escape(fill(code))}">'
            f"<title>{escape(tooltip(code, shape['nom']))}</title></path>"
        )
    add("</g>")

    # Paris and the petite couronne, enlarged in a corner, and the area they enlarge.
    inset = geo["inset"]
    bx, by, bw, bh = inset["box"]
    fx, fy, fw, fh = inset["frame"]
    add(f'<rect x="{fx}" y="{fy}" width="{fw}" height="{fh}" fill="none" stroke="#4d4d4d" stroke-width="1"/>')
    add(
        f'<text x="{bx}" y="{by - 7}" font-size="{font}" fill="{TEXT}">{escape(inset["label"])}</text>'
        f'<rect x="{bx}" y="{by}" width="{bw}" height="{bh}" fill="#ffffff" stroke="#4d4d4d" stroke-width="1"/>'
    )
    add(f'<g stroke="{BORDER}" stroke-width="0.8" stroke-linejoin="round" fill-rule="evenodd">')
    for code, d in inset["departements"].items():
        add(f'<path d="{escape(d)}" fill="{escape(fill(code))}"><title>{escape(tooltip(code))}</title></path>')
    add("</g>")

    # Overseas départements: labelled squares, several rows if needed.
    overseas = sorted(set(OVERSEAS) | {str(code) for code in counts if code and code not in geo["departements"]})
    per_row = max(1, int(width // COLUMN))
    y = map_height + 10
    add(f'<text x="10" y="{y + font}" font-size="{font}" font-weight="bold" fill="{TEXT}">Outre-mer</text>')
    y += font + 14
    for start in range(0, len(overseas), per_row):
        row = overseas[start : start + per_row]
        left = (width - len(row) * COLUMN) / 2
        for i, code in enumerate(row):
            cx = left + i * COLUMN + COLUMN / 2
            dep = departements.get(code)
            add(
                f'<g><title>{escape(tooltip(code))}</title>'
                f'<rect x="{cx - SQUARE / 2:g}" y="{y}" width="{SQUARE}" height="{SQUARE}" '
                f'fill="{escape(fill(code))}" stroke="#9a9a9a" stroke-width="1"/>'
                f'<text x="{cx:g}" y="{y + SQUARE + font + 4}" font-size="{font}" text-anchor="middle" '
                f'font-weight="bold" fill="{TEXT}">{escape(code)}</text>'
            )
            if dep and len(dep.nom) <= 11:  # longer names would overlap the next column
                add(
                    f'<text x="{cx:g}" y="{y + SQUARE + 2 * font + 8}" font-size="{font}" '
                    f'text-anchor="middle" fill="{TEXT}">{escape(dep.nom)}</text>'
                )
            add("</g>")
        y += SQUARE + 2 * font + 24

    # Legend.
    entries = list(zip(colours, labels, strict=True))
    entries.append((NO_DATA, "aucun dossier"))
    entries.append((hatch, f"moins de {_dossiers(threshold)} (masqué)"))
    y += 6
    add(f'<text x="10" y="{y + font}" font-size="{font}" font-weight="bold" fill="{TEXT}">Légende</text>')
    y += font + 10
    for colour, label in entries:
        add(
            f'<rect x="10" y="{y}" width="{SWATCH}" height="{SWATCH}" fill="{escape(colour)}" '
            f'stroke="#9a9a9a" stroke-width="1"/>'
            f'<text x="{10 + SWATCH + 10}" y="{y + SWATCH / 2:g}" dominant-baseline="central" '
            f'font-size="{font}" fill="{TEXT}">{escape(label)}</text>'
        )
        y += ROW
    y += 10
    add(
        f'<text x="10" y="{y + font}" font-size="{font}" fill="#4d4d4d">'
        f"Fond de carte : IGN, INSEE (Licence Ouverte)</text>"
    )
    height = y + font + 10

    defs = (
        f'<defs><pattern id="{uid}-masque" width="8" height="8" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="8" height="8" fill="{HATCH_BG}"/>'
        f'<line x1="2" y1="0" x2="2" y2="8" stroke="{HATCH_LINE}" stroke-width="2.5"/></pattern></defs>'
    )
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:g}" width="100%" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif">'
        f"<title>{escape(title)}</title>{defs}"
    )
    return Markup(head + "".join(parts) + "</svg>")  # noqa: S704  (every text above went through escape())
