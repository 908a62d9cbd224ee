"""Build app/data/departements_map.json: SVG outlines of the 96 metropolitan départements.

The JSON is checked into the repository (a fresh clone has no /work/shared), so this script
only needs to run again when the source outlines change. To regenerate:

    .venv/bin/python scripts/build_map.py [path/to/departements.geojson]

Source: /work/shared/data/departements.geojson (properties `code`, `nom`), IGN Admin Express /
INSEE codes, 2018 edition, as published by the france-geojson project; Licence Ouverte (Etalab).
Any map drawn from it must credit « IGN, INSEE ».

What it does, with the standard library only:
- projects longitude/latitude with a Lambert conformal conic on a sphere (standard parallels
  44° and 49°, like Lambert-93), fitted to a viewBox VIEW_W wide (its height follows);
- snaps every point to a 0.1 unit grid, simplifies each ring with Douglas–Peucker
  (TOLERANCE units) and drops rings smaller than MIN_RING_AREA (tiny islets);
- writes each département as one path `d` string: an absolute `M`, then relative `l` segments
  (exact, since points are on the 0.1 grid), `z` per ring; holes rely on fill-rule="evenodd";
- adds a label point per département: the area centroid of its largest ring when it falls
  inside, else the middle of the widest horizontal span through it;
- adds an enlarged inset of Paris and the petite couronne (INSET_CODES) in INSET_BOX, and the
  frame of the area it enlarges on the main map.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/work/shared/data/departements.geojson")
OUTPUT = ROOT / "app" / "data" / "departements_map.json"

VIEW_W, MARGIN = 600, 10  # the viewBox height follows from the shape of the map
TOLERANCE = 0.5  # viewBox units (the whole map is 600 wide)
MIN_RING_AREA = 4.0  # square viewBox units
GRID = 10  # coordinates are kept as integers in tenths of a unit

# Paris and the petite couronne are a few units wide on the main map: they are drawn again,
# enlarged, in a box in the empty corner north of Brittany.
INSET_CODES = ("75", "92", "93", "94")
INSET_BOX = (10, 28, 92, 92)  # x, y, width, height in viewBox units
INSET_PADDING = 3

# Lambert conformal conic on a sphere, Lambert-93-like parameters.
PHI1, PHI2, PHI0, LAMBDA0 = (math.radians(v) for v in (44.0, 49.0, 46.5, 3.0))
_N = math.log(math.cos(PHI1) / math.cos(PHI2)) / math.log(
    math.tan(math.pi / 4 + PHI2 / 2) / math.tan(math.pi / 4 + PHI1 / 2)
)
_F = math.cos(PHI1) * math.tan(math.pi / 4 + PHI1 / 2) ** _N / _N
_RHO0 = _F / math.tan(math.pi / 4 + PHI0 / 2) ** _N


def lambert(lon: float, lat: float) -> tuple[float, float]:
    rho = _F / math.tan(math.pi / 4 + math.radians(lat) / 2) ** _N
    theta = _N * (math.radians(lon) - LAMBDA0)
    return rho * math.sin(theta), _RHO0 - rho * math.cos(theta)


def polygons(geometry: dict) -> list[list[list[list[float]]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["coordinates"]
    raise ValueError(f"unexpected geometry {geometry['type']}")


def douglas_peucker(points: list[tuple[int, int]], tolerance: float) -> list[tuple[int, int]]:
    """Iterative Douglas–Peucker on an open polyline (first and last points kept)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        start, end = stack.pop()
        (ax, ay), (bx, by) = points[start], points[end]
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy)
        best, index = -1.0, -1
        for i in range(start + 1, end):
            px, py = points[i]
            if length == 0:
                dist = math.hypot(px - ax, py - ay)
            else:
                dist = abs(dy * (px - ax) - dx * (py - ay)) / length
            if dist > best:
                best, index = dist, i
        if index != -1 and best > tolerance:
            keep[index] = True
            stack.append((start, index))
            stack.append((index, end))
    return [p for p, k in zip(points, keep, strict=True) if k]


def simplify_ring(ring: list[tuple[int, int]], tolerance: float) -> list[tuple[int, int]]:
    """Simplify a closed ring (without its repeated closing point), splitting it at the point
    farthest from its first one so that both halves keep their ends."""
    if len(ring) < 4:
        return ring
    far = max(range(len(ring)), key=lambda i: (ring[i][0] - ring[0][0]) ** 2 + (ring[i][1] - ring[0][1]) ** 2)
    first = douglas_peucker(ring[: far + 1], tolerance)
    second = douglas_peucker(ring[far:] + [ring[0]], tolerance)
    return first[:-1] + second[:-1]


def area(ring: list[tuple[float, float]]) -> float:
    """Signed shoelace area."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return total / 2


def centroid(ring: list[tuple[float, float]]) -> tuple[float, float]:
    a = area(ring)
    cx = cy = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x1 * y2 - x2 * y1
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    return cx / (6 * a), cy / (6 * a)


def crossings(rings: list[list[tuple[float, float]]], y: float) -> list[float]:
    xs = []
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
            if (y1 <= y < y2) or (y2 <= y < y1):
                xs.append(x1 + (y - y1) * (x2 - x1) / (y2 - y1))
    return sorted(xs)


def inside(rings: list[list[tuple[float, float]]], x: float, y: float) -> bool:
    return sum(1 for cx in crossings(rings, y) if cx < x) % 2 == 1


def label_point(rings: list[list[tuple[float, float]]]) -> tuple[float, float]:
    """Centroid of the largest ring if inside the shape (even-odd over all rings), else the
    middle of the widest inside span on the horizontal line through that centroid."""
    largest = max(rings, key=lambda r: abs(area(r)))
    cx, cy = centroid(largest)
    if inside(rings, cx, cy):
        return cx, cy
    xs = crossings(rings, cy)
    spans = list(zip(xs[0::2], xs[1::2], strict=True))
    start, end = max(spans, key=lambda s: s[1] - s[0])
    return (start + end) / 2, cy


def path_data(rings: list[list[tuple[int, int]]]) -> str:
    def num(tenths: int) -> str:
        text = f"{tenths / GRID:.1f}".removesuffix(".0")
        return text.replace("0.", ".", 1) if text.startswith("0.") else text.replace("-0.", "-.", 1)

    parts = []
    for ring in rings:
        (x0, y0), rest = ring[0], ring[1:]
        out = [f"M{num(x0)} {num(y0)}l"]
        px, py = x0, y0
        for i, (x, y) in enumerate(rest):
            dx, dy = num(x - px), num(y - py)
            sep = "" if i == 0 or dx.startswith("-") else " "
            out.append(f"{sep}{dx}{'' if dy.startswith('-') else ' '}{dy}")
            px, py = x, y
        out.append("z")
        parts.append("".join(out))
    return "".join(parts)


def outline(rings: list[list[tuple[float, float]]], to_grid) -> list[list[tuple[int, int]]]:
    """Rings snapped to the grid, simplified, tiny ones dropped."""
    kept = []
    for ring in rings:
        snapped: list[tuple[int, int]] = []
        for point in (to_grid(x, y) for x, y in ring):
            if not snapped or snapped[-1] != point:
                snapped.append(point)
        if len(snapped) > 1 and snapped[0] == snapped[-1]:
            snapped.pop()
        simple = simplify_ring(snapped, TOLERANCE * GRID)
        if len(simple) >= 3 and abs(area(simple)) / GRID**2 >= MIN_RING_AREA:
            kept.append(simple)
    if not kept:
        raise ValueError("nothing left after simplification")
    return kept


def build(source: Path) -> dict:
    features = json.loads(source.read_text(encoding="utf-8"))["features"]
    projected = {}
    for feature in features:
        props = feature["properties"]
        rings = [
            [lambert(lon, lat) for lon, lat, *_ in ring]
            for polygon in polygons(feature["geometry"])
            for ring in polygon
        ]
        projected[props["code"]] = (props["nom"], rings)

    xs = [x for _, rings in projected.values() for ring in rings for x, _ in ring]
    ys = [y for _, rings in projected.values() for ring in rings for _, y in ring]
    scale = (VIEW_W - 2 * MARGIN) / (max(xs) - min(xs))
    view_h = math.ceil(scale * (max(ys) - min(ys)) + 2 * MARGIN)

    def main_grid(x: float, y: float) -> tuple[int, int]:
        # y grows downwards in SVG
        return (round((MARGIN + scale * (x - min(xs))) * GRID), round((MARGIN + scale * (max(ys) - y)) * GRID))

    departements = {}
    for code, (nom, rings) in sorted(projected.items()):
        kept = outline(rings, main_grid)
        real = [[(x / GRID, y / GRID) for x, y in ring] for ring in kept]
        lx, ly = label_point(real)
        departements[code] = {"nom": nom, "d": path_data(kept), "label": [round(lx, 1), round(ly, 1)]}

    # The inset: same projection, its own scale, fitted (centred) in INSET_BOX.
    ixs = [x for code in INSET_CODES for ring in projected[code][1] for x, _ in ring]
    iys = [y for code in INSET_CODES for ring in projected[code][1] for _, y in ring]
    bx, by, bw, bh = INSET_BOX
    iscale = min((bw - 2 * INSET_PADDING) / (max(ixs) - min(ixs)), (bh - 2 * INSET_PADDING) / (max(iys) - min(iys)))
    ox = bx + (bw - iscale * (max(ixs) - min(ixs))) / 2
    oy = by + (bh - iscale * (max(iys) - min(iys))) / 2

    def inset_grid(x: float, y: float) -> tuple[int, int]:
        return (round((ox + iscale * (x - min(ixs))) * GRID), round((oy + iscale * (max(iys) - y)) * GRID))

    # Where the inset sits on the main map (a frame drawn around that area).
    (fx0, fy0), (fx1, fy1) = main_grid(min(ixs), max(iys)), main_grid(max(ixs), min(iys))
    area_frame = [round(fx0 / GRID - 1.5, 1), round(fy0 / GRID - 1.5, 1),
                  round((fx1 - fx0) / GRID + 3, 1), round((fy1 - fy0) / GRID + 3, 1)]
    inset = {
        "label": "Paris et petite couronne",
        "box": list(INSET_BOX),
        "frame": area_frame,
        "departements": {code: path_data(outline(projected[code][1], inset_grid)) for code in INSET_CODES},
    }

    return {
        "_source": {
            "data": "IGN Admin Express, codes INSEE, édition 2018, via le projet france-geojson",
            "licence": "Licence Ouverte / Open Licence (Etalab)",
            "credit": "IGN, INSEE",
            "built_by": "scripts/build_map.py (Lambert conique conforme, Douglas–Peucker "
            f"{TOLERANCE} unité, grille 0,1)",
        },
        "viewBox": f"0 0 {VIEW_W} {view_h}",
        "width": VIEW_W,
        "height": view_h,
        "departements": departements,
        "inset": inset,
    }


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else SOURCE
    data = build(source)
    OUTPUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{OUTPUT.relative_to(ROOT)}: {len(data['departements'])} départements, {OUTPUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
