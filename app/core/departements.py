"""The 101 départements: names, préfet naming and competent tribunal (shared/data)."""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "departements.csv"


@dataclass(frozen=True)
class Departement:
    code: str
    nom: str
    prefet: str
    prefecture: str
    tribunal_administratif: str

    @property
    def label(self) -> str:
        return f"{self.code} – {self.nom}"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in text if not unicodedata.combining(c)).replace("-", " ").replace("'", " ")


@cache
def all_departements() -> dict[str, Departement]:
    with DATA_FILE.open(encoding="utf-8") as fh:
        return {row["code"]: Departement(**row) for row in csv.DictReader(fh)}


@cache
def _by_folded_name() -> dict[str, str]:
    index = {}
    for dep in all_departements().values():
        index[_fold(dep.nom)] = dep.code
        index[_fold(dep.prefecture)] = index.get(_fold(dep.prefecture), dep.code)
    return index


def get(code: str | None) -> Departement | None:
    return all_departements().get(code or "")


def resolve(value: str | None) -> str | None:
    """A département code from a code ('69', '2a', '974', '6') or a name ('Rhône'); None if unknown."""
    if not value:
        return None
    raw = str(value).strip()
    if raw.endswith(".0"):  # spreadsheets turn 69 into 69.0
        raw = raw[:-2]
    upper = raw.upper()
    if upper in all_departements():
        return upper
    if upper.isdigit() and len(upper) == 1 and "0" + upper in all_departements():
        return "0" + upper
    return _by_folded_name().get(_fold(raw))


def choices() -> list[tuple[str, str]]:
    return [(d.code, d.label) for d in all_departements().values()]
