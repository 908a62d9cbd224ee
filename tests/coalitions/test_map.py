"""The server-side SVG map of France: geometry file, small-count masking, well-formed output."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from app.coalitions import map as france_map
from app.coalitions.map import OVERSEAS, class_breaks, france_map_svg
from app.core import departements

NS = "{http://www.w3.org/2000/svg}"
THRESHOLD = 5
COUNTS = {
    "69": 12, "13": 40, "59": 1200, "2A": 250, "31": 90, "67": 7, "35": 300, "06": 60,
    "75": None, "33": 3, "44": 1, "29": 4,  # masked: None, or a number under the threshold
    "01": 0,
    "971": 7, "972": None, "974": 2, "975": 8,  # 975 has no outline nor name: a square too
}
NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def parse_path(d: str) -> list[list[tuple[float, float]]]:
    """Absolute points of each subpath of SVG path data (M, L, H, V, Z, absolute or relative);
    raises ValueError on anything else."""
    tokens = re.findall(rf"[MmLlHhVvZz]|{NUMBER}|[^\s,]", d)
    subpaths: list[list[tuple[float, float]]] = []
    x = y = 0.0
    command = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in "MmLlHhVvZz":
            command = token
            i += 1
            if command in "Zz":
                if not subpaths or len(subpaths[-1]) < 3:
                    raise ValueError("z closes an empty subpath")
                x, y = subpaths[-1][0]
                command = None
            continue
        if command is None or not re.fullmatch(NUMBER, token):
            raise ValueError(f"unexpected token {token!r}")
        relative = command.islower()
        if command in "Hh":
            x = float(token) + (x if relative else 0)
            i += 1
        elif command in "Vv":
            y = float(token) + (y if relative else 0)
            i += 1
        else:
            if i + 1 >= len(tokens) or not re.fullmatch(NUMBER, tokens[i + 1]):
                raise ValueError("odd number of coordinates")
            dx, dy = float(token), float(tokens[i + 1])
            x, y = (x + dx, y + dy) if relative else (dx, dy)
            i += 2
        if command in "Mm":
            subpaths.append([])
            command = "l" if relative else "L"  # implicit lineto after moveto
        subpaths[-1].append((x, y))
    if not subpaths:
        raise ValueError("no subpath")
    return subpaths


def inside(box: tuple[float, float, float, float], subpaths, slack: float = 0.05) -> bool:
    bx, by, bw, bh = box
    return all(
        bx - slack <= px <= bx + bw + slack and by - slack <= py <= by + bh + slack
        for ring in subpaths for px, py in ring
    )


@pytest.fixture(scope="module")
def geo():
    return json.loads(france_map.MAP_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def svg():
    markup = france_map_svg(COUNTS, title="Dossiers par département", threshold=THRESHOLD)
    return parse(markup)


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314  (our own output, parsed to prove it is well-formed XML)


def titles(root) -> list[str]:
    return [t.text for t in root.iter(f"{NS}title")]


def test_geometry_file_has_the_96_metropolitan_departements(geo):
    codes = set(geo["departements"])
    assert len(codes) == 96
    assert {"2A", "2B", "01", "75", "95"} <= codes
    assert not codes & set(OVERSEAS)
    assert codes <= set(departements.all_departements())
    assert geo["_source"]["credit"] == "IGN, INSEE"
    assert "Licence Ouverte" in geo["_source"]["licence"]
    assert france_map.MAP_FILE.stat().st_size < 150_000


def test_every_path_parses_within_the_viewbox(geo):
    x0, y0, width, height = (float(v) for v in geo["viewBox"].split())
    assert (x0, y0, width, height) == (0, 0, geo["width"], geo["height"])
    for code, shape in geo["departements"].items():
        subpaths = parse_path(shape["d"])
        assert inside((0, 0, width, height), subpaths), code
        lx, ly = shape["label"]
        assert 0 <= lx <= width and 0 <= ly <= height, code
    inset = geo["inset"]
    assert set(inset["departements"]) == {"75", "92", "93", "94"}
    for code, d in inset["departements"].items():
        assert inside(tuple(inset["box"]), parse_path(d)), code
    assert inside((0, 0, width, height), [[tuple(inset["box"][:2])], [tuple(inset["frame"][:2])]])


def test_path_checker_can_fail():
    assert parse_path("M1 2l3 4-1 .5z") == [[(1, 2), (4, 6), (3, 6.5)]]
    with pytest.raises(ValueError):
        parse_path("M1 2C3 4 5 6 7 8z")
    with pytest.raises(ValueError):
        parse_path("M1 2l3z")
    assert not inside((0, 0, 600, 600), parse_path("M590 10l20 0 0 5z"))


def test_map_is_well_formed_accessible_svg_without_styles(svg):
    assert svg.tag == f"{NS}svg"
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == "Dossiers par département"
    assert svg.get("width") == "100%"
    assert svg[0].tag == f"{NS}title" and svg[0].text == "Dossiers par département"
    for element in svg.iter():
        assert element.tag != f"{NS}style"
        assert "style" not in element.attrib
        assert not element.tag.endswith(("script", "foreignObject", "image"))
        for value in element.attrib.values():
            assert "http" not in value or element is svg  # no external request


def test_every_metropolitan_departement_is_drawn(svg, geo):
    drawn = {t.split(" – ")[0] for t in titles(svg) if " – " in t}
    assert set(geo["departements"]) <= drawn


def test_titles_give_the_count_or_mask_it(svg):
    text = titles(svg)
    assert "69 – Rhône : 12 dossiers" in text
    assert "59 – Nord : 1\u202f200 dossiers" in text
    assert "75 – Paris : moins de 5 dossiers" in text  # None
    assert "33 – Gironde : moins de 5 dossiers" in text  # 3, under the threshold
    assert "29 – Finistère : moins de 5 dossiers" in text
    assert "01 – Ain : aucun dossier" in text
    assert "02 – Aisne : aucun dossier" in text  # absent from counts
    assert text.count("75 – Paris : moins de 5 dossiers") == 2  # main map and the Paris inset


def test_no_count_under_the_threshold_appears_anywhere(svg):
    texts = [t for t in svg.itertext() if t.strip()] + [svg.get("aria-label")]
    assert texts
    for text in texts:
        figure = text.split(" : ", 1)[1] if " : " in text else text  # drop "29 – Finistère"
        for number in re.findall(r"\d+", figure.replace("\u202f", "")):
            if figure.strip() == number and len(number) == 3:  # overseas square label: 971…
                continue
            assert int(number) >= THRESHOLD, text
    raw = ET.tostring(svg, encoding="unicode")
    assert not re.search(r"(?<![\d\u202f])[1-4] dossier|: [1-4](?![\d\u202f])", raw)


def test_masked_departements_are_hatched_and_in_the_legend(svg):
    pattern = next(svg.iter(f"{NS}pattern"))
    hatch = f"url(#{pattern.get('id')})"
    fills = {p.find(f"{NS}title").text.split(" ")[0]: p.get("fill") for p in svg.iter(f"{NS}path")}
    assert fills["75"] == fills["33"] == hatch
    assert fills["02"] == france_map.NO_DATA
    assert fills["59"] == france_map.CLASS_COLOURS[-1]
    assert fills["69"] in france_map.CLASS_COLOURS and fills["69"] != fills["59"]
    legend = [t.text for t in svg.iter(f"{NS}text")]
    assert "moins de 5 dossiers (masqué)" in legend
    assert "aucun dossier" in legend
    assert "Fond de carte : IGN, INSEE (Licence Ouverte)" in legend


def test_legend_ranges_are_contiguous_and_start_at_the_threshold(svg):
    ranges = []
    for t in svg.iter(f"{NS}text"):
        found = re.fullmatch(r"([\d\u202f]+)(?: à ([\d\u202f]+))? dossiers?", t.text or "")
        if found:
            low = int(found[1].replace("\u202f", ""))
            ranges.append((low, int((found[2] or found[1]).replace("\u202f", ""))))
    assert len(ranges) == 5
    assert ranges[0][0] == THRESHOLD and ranges[-1][1] == 1200
    for (_, high), (low, _) in zip(ranges, ranges[1:], strict=False):
        assert low == high + 1


def test_overseas_departements_are_labelled_squares(svg):
    squares = {}
    for group in svg.iter(f"{NS}g"):
        title, rect = group.find(f"{NS}title"), group.find(f"{NS}rect")
        if title is not None and rect is not None:
            squares[title.text] = rect.get("fill")
    assert set(squares) == {
        "971 – Guadeloupe : 7 dossiers",
        "972 – Martinique : moins de 5 dossiers",
        "973 – Guyane : aucun dossier",
        "974 – La Réunion : moins de 5 dossiers",
        "975 : 8 dossiers",
        "976 – Mayotte : aucun dossier",
    }
    assert squares["973 – Guyane : aucun dossier"] == france_map.NO_DATA
    assert squares["971 – Guadeloupe : 7 dossiers"] in france_map.CLASS_COLOURS
    labels = [t.text for t in svg.iter(f"{NS}text")]
    assert {"971", "972", "973", "974", "975", "976", "Guadeloupe", "Mayotte"} <= set(labels)


def test_text_stays_legible_on_a_phone(svg):
    width = float(svg.get("viewBox").split()[2])
    sizes = [float(t.get("font-size")) for t in svg.iter(f"{NS}text")]
    assert sizes and min(sizes) * 390 / width >= 12


def test_everything_is_escaped():
    markup = france_map_svg({"<b>": 9, "69": None}, title='Carte <script>alert(1)</script> & "co"', threshold=5)
    root = parse(markup)
    assert root.get("aria-label") == 'Carte <script>alert(1)</script> & "co"'
    assert not [e for e in root.iter() if e.tag.endswith(("script", "b"))]
    assert "<b> : 9 dossiers" in titles(root)


def test_no_data_at_all_still_draws_the_map():
    root = parse(france_map_svg({}, title="Vide", threshold=10))
    fills = {p.get("fill") for p in root.iter(f"{NS}path")}
    assert fills == {france_map.NO_DATA}
    assert "moins de 10 dossiers (masqué)" in [t.text for t in root.iter(f"{NS}text")]


@pytest.mark.parametrize("values", [[5], [5, 5, 5], [5, 6, 7, 8, 9, 10, 11], [7, 12, 40, 90, 250, 300, 1200], list(range(5, 500))])
def test_class_breaks_start_at_the_threshold_and_increase(values):
    breaks = class_breaks(values, 5)
    assert breaks[0] == 5 and len(breaks) <= 5
    assert breaks == sorted(set(breaks)) and breaks[-1] <= max(values)


def test_departement_names_are_escaped_too(monkeypatch):
    class Odd:
        nom = "<i>Rhône & co</i>"

    monkeypatch.setattr(france_map.departements, "get", lambda code: Odd())
    root = parse(france_map_svg({"75": 20, "971": None}, title="t", threshold=5))
    assert "75 – <i>Rhône & co</i> : 20 dossiers" in titles(root)
    assert not [e for e in root.iter() if e.tag.endswith("i")]


def test_a_single_class_takes_a_mid_blue():
    root = parse(france_map_svg({"69": 5, "13": 5}, title="t", threshold=5))
    fills = {p.find(f"{NS}title").text[:2]: p.get("fill") for p in root.iter(f"{NS}path")}
    assert fills["69"] == fills["13"] == france_map.CLASS_COLOURS[2]
    assert "5 dossiers" in [t.text for t in root.iter(f"{NS}text")]
