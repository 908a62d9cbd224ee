"""What the index holds for a case: read from the database, split into personal and non-personal."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.cases.models import Case, Code
from app.core import departements
from app.core.formats import date_fr
from app.evidence.models import Exhibit
from app.search import analysis

MASK = "[…]"
PHONE_LIKE = re.compile(r"\+?\d[\d .\-]{6,}\d")
OCR_LIMIT = 200_000  # characters of OCR text indexed per exhibit


@dataclass
class Source:
    """One piece of a case's text, as shown in an excerpt: 'Récit', 'Pièce n° 3'…"""

    label: str
    text: str
    personal: bool = False
    index_text: str | None = None  # what is indexed when it differs from what is shown
    shown_with_identity_only: bool = False  # indexed, but never quoted in excerpts without identity


@dataclass
class CaseText:
    """Everything searchable about one case, with the filter values."""

    case_id: int
    org_id: int
    reference: str
    prefecture: str
    demarche: str
    status: str
    codes: list[str]
    opened_on: date
    sources: list[Source] = field(default_factory=list)
    person_values: dict[str, list[str]] = field(default_factory=dict)


class Labels:
    """Code labels of every association, loaded once per batch."""

    def __init__(self, session: Session):
        self._labels: dict[tuple[int | None, str, str], str] = {
            (c.org_id, c.kind, c.code): c.label for c in session.scalars(select(Code))}

    def get(self, org_id: int, kind: str, code: str) -> str:
        return self._labels.get((org_id, kind, code)) or self._labels.get((None, kind, code)) or code


def load_cases(session: Session, case_ids, org_id: int | None = None) -> list[Case]:
    """Cases with person, codes and events (one query per relation)."""
    query = (select(Case).where(Case.id.in_(list(case_ids)))
             .options(selectinload(Case.person), selectinload(Case.codes), selectinload(Case.events)))
    if org_id is not None:
        query = query.where(Case.org_id == org_id)
    return list(session.scalars(query))


def load_exhibits(session: Session, case_ids) -> dict[int, list[Exhibit]]:
    """Exhibits still in the file (withdrawn ones are out of the search) per case."""
    by_case: dict[int, list[Exhibit]] = {}
    rows = session.scalars(select(Exhibit).where(Exhibit.case_id.in_(list(case_ids)),
                                                 Exhibit.withdrawn_at.is_(None))
                           .order_by(Exhibit.number, Exhibit.id))
    for exhibit in rows:
        by_case.setdefault(exhibit.case_id, []).append(exhibit)
    return by_case


def case_text(case: Case, exhibits: list[Exhibit], labels: Labels) -> CaseText:
    """The searchable text of a case, split in sources; personal values kept apart."""
    org = case.org_id
    dep = departements.get(case.prefecture)
    blocages = [c.code for c in case.codes if c.kind == "blocage"]
    consequences = [c.code for c in case.codes if c.kind == "consequence"]
    facts = [
        ("Référence", case.reference),
        ("Préfecture", f"{dep.nom if dep else ''} ({case.prefecture})"),
        ("Démarche", labels.get(org, "demarche", case.demarche)),
        ("Blocage", " ; ".join(labels.get(org, "blocage", c) for c in blocages)),
        ("Statut", labels.get(org, "statut", case.status)),
    ]
    if consequences:
        facts.append(("Conséquences", " ; ".join(labels.get(org, "consequence", c) for c in consequences)))
    if case.anef_number:
        facts.append(("Numéro ANEF", case.anef_number))
    titre = " · ".join(t for t in (case.titre_demande, case.titre_actuel) if t)
    # The field names ("Statut :") are shown but not indexed: every case would hold them.
    sources = [Source("Fiche", " · ".join(f"{k} : {v}" for k, v in facts),
                      index_text=" · ".join(v for _k, v in facts))]
    if titre:
        sources.append(Source("Titre", titre))
    if case.narrative:
        sources.append(Source("Récit", case.narrative))
    for event in case.events:
        text = " · ".join(t for t in (labels.get(org, "evenement", event.type), event.description,
                                      event.reference) if t)
        sources.append(Source(f"Chronologie, {date_fr(event.date)}", text))
    for exhibit in exhibits:
        if exhibit.description:
            sources.append(Source(f"Pièce n° {exhibit.number}", exhibit.description))
        if exhibit.ocr_text:
            # Scanned titres, passports and letters carry birth dates, addresses, relatives'
            # names: the text read from a pièce is matched for everyone but shown only to
            # roles that may see identities.
            sources.append(Source(f"Pièce n° {exhibit.number}, texte lu", exhibit.ocr_text[:OCR_LIMIT],
                                  shown_with_identity_only=True))
    person_values: dict[str, list[str]] = {}
    person = case.person
    if person is not None:
        person_values = values_of(person)
        shown = " · ".join(v for v in (person.full_name, person.numero_etranger, person.phone, person.email) if v)
        if shown:
            sources.append(Source("Personne", shown, personal=True))
    return CaseText(case.id, org, case.reference, case.prefecture, case.demarche, case.status,
                    blocages, case.opened_on, sources, person_values)


def values_of(person) -> dict[str, list[str]]:
    """The person's own values that search indexes apart and masks for other roles."""
    return {
        "names": [v for v in (person.first_name, person.last_name) if v],
        "numbers": [v for v in (person.numero_etranger,) if v],
        "phones": [v for v in (person.phone,) if v],
        "emails": [v for v in (person.email,) if v],
        "nationality": [v for v in (person.nationality,) if v],
    }


class Masker:
    """Removes a person's own values (names, numbers, phone, email) from free text."""

    def __init__(self, person_values: dict[str, list[str]]):
        self.names = {analysis.fold(p) for v in person_values.get("names", [])
                      for p in analysis.SEPARATORS.split(v) if len(p) > 1}
        self.names |= {analysis.transliterate(n) for n in self.names} - {""}
        self.numbers = {analysis.digits(v) for v in person_values.get("numbers", [])} - {""}
        for phone in person_values.get("phones", []):
            self.numbers.update(analysis.phone_terms(phone))
        self.emails = {v.lower() for v in person_values.get("emails", [])}

    def __bool__(self) -> bool:
        return bool(self.names or self.numbers or self.emails)

    def mask_numbers(self, text: str) -> str:
        """Only the phone-like numbers (word-level values are skipped by text_terms)."""
        if not self.numbers or not text:
            return text
        return PHONE_LIKE.sub(lambda m: MASK if analysis.digits(m.group()) in self.numbers else m.group(), text)

    def mask(self, text: str) -> str:
        if not self or not text:
            return text
        spans = []
        for match in analysis.WORD.finditer(text):
            raw = match.group()
            parts = [analysis.fold_word(p) for p in analysis.SEPARATORS.split(raw) if p]
            if (raw.lower() in self.emails or any(p in self.names for p in parts)
                    or (raw.isdigit() and raw in self.numbers)):
                spans.append((match.start(), match.end()))
        if self.numbers:
            for match in PHONE_LIKE.finditer(text):
                if analysis.digits(match.group()) in self.numbers:
                    spans.append((match.start(), match.end()))
        if not spans:
            return text
        out, last = [], 0
        for start, end in sorted(spans):
            if start < last:
                start = last
            if start >= end:
                continue
            out.append(text[last:start])
            out.append(MASK)
            last = end
        out.append(text[last:])
        return "".join(out)


HIDDEN_TEXT = "[texte masqué pour votre rôle]"


def public_sources(text: CaseText) -> list[Source]:
    """Sources a role without identity.view may match and see: personal values masked out."""
    masker = Masker(text.person_values)
    return [Source(s.label, HIDDEN_TEXT if s.shown_with_identity_only else masker.mask(s.text))
            for s in text.sources if not s.personal]


def index_document(text: CaseText) -> dict:
    """The whoosh document of a case (pre-analysed fields: terms separated by spaces)."""
    terms: list[str] = []
    shingles: list[str] = []
    masker = Masker(text.person_values)
    skip = (masker.names, masker.numbers, masker.emails) if masker else None
    for source in text.sources:
        if source.personal:
            continue
        content = source.index_text if source.index_text is not None else source.text
        source_terms, source_shingles = analysis.text_terms(masker.mask_numbers(content), skip)
        terms.extend(source_terms)
        shingles.extend(source_shingles)
    values = text.person_values
    person: list[str] = []
    for name in values.get("names", []):
        person.extend(analysis.name_terms(name))
        whole = analysis.fold(name.strip())
        if " " not in whole and analysis.SEPARATORS.search(whole):
            person.append(whole)
    for number in values.get("numbers", []):
        person.append(analysis.digits(number))
    for phone in values.get("phones", []):
        person.extend(analysis.phone_terms(phone))
    for email in values.get("emails", []):
        person.append(email.lower())
        person.extend(analysis.name_terms(email.split("@")[0]))
    for nationality in values.get("nationality", []):
        person.extend(t for _s, _e, w, p in analysis.units(nationality) for t in analysis.unit_terms(w, p))
    reference = text.reference.lower()
    # Prefixes of the reference from its last part on (LYO-2025-00…), and up to each separator.
    last = reference.rfind("-") + 1
    prefixes = {reference[:i] for i, c in enumerate(reference) if c == "-"} | {
        reference[:n] for n in range(max(last, 3), len(reference) + 1)}
    return {
        "cid": str(text.case_id),
        "case_id": text.case_id,
        "org": str(text.org_id),
        "pref": text.prefecture,
        "code": " ".join(text.codes),
        "status": text.status,
        "dem": text.demarche,
        "opened": text.opened_on.toordinal(),
        "ref": reference,
        "refpre": " ".join(sorted(p for p in prefixes if p)),
        "text": analysis.join_terms(terms),
        "shingle": analysis.join_terms(shingles),
        "person": analysis.join_terms(person),
    }


def build_documents(session: Session, case_ids) -> dict[int, dict | None]:
    """{case_id: whoosh document, or None when the case no longer exists}."""
    case_ids = list(dict.fromkeys(case_ids))
    labels = Labels(session)
    cases = {c.id: c for c in load_cases(session, case_ids)}
    exhibits = load_exhibits(session, list(cases))
    return {cid: (index_document(case_text(cases[cid], exhibits.get(cid, []), labels))
                  if cid in cases else None) for cid in case_ids}
