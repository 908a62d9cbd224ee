"""What the index holds for a case: read from the database, split into what every role may find
and what only roles that may see identities find."""

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
from app.privacy import masking
from app.search import analysis

PHONE_LIKE = re.compile(r"\+?\d[\d .\-]{6,}\d")
OCR_LIMIT = 200_000  # characters of OCR text indexed per exhibit


@dataclass
class Source:
    """One piece of a case's text, as shown in an excerpt: 'Récit', 'Pièce n° 3'…

    `text` is what roles with identity.view see and find. `public_spans` are the passages of it
    masked for the other roles (app.privacy.masking), or None when they must neither see nor
    match any of it (text read from a pièce, the ANEF number, the person's record).
    """

    label: str
    text: str
    public_spans: list[tuple[int, int]] | None = None
    index_text: str | None = None  # what is indexed when it differs from what is shown (no spans then)
    personal: bool = False  # the person's record: indexed field by field, never as text

    @property
    def public(self) -> str | None:
        """What roles without identity see of it (None: nothing)."""
        return None if self.public_spans is None else masking.apply(self.text, self.public_spans)


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


def case_text(case: Case, exhibits: list[Exhibit], labels: Labels, *, mask: bool = True) -> CaseText:
    """The searchable text of a case, split in sources, each with its masked public version
    (`mask=False`: no masking computed, for showing excerpts to roles with identity.view)."""
    org = case.org_id
    identity = masking.identity_of(case.person)

    def masked(text: str) -> list[tuple[int, int]]:
        return masking.masked_spans(text, identity) if mask else []

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
    titre = " · ".join(t for t in (case.titre_demande, case.titre_actuel) if t)
    # The field names ("Statut :") are shown but not indexed: every case would hold them.
    sources = [Source("Fiche", " · ".join(f"{k} : {v}" for k, v in facts), public_spans=[],
                      index_text=" · ".join(v for _k, v in facts))]
    if case.anef_number:
        # The ANEF request number identifies the person at the préfecture: identity roles only.
        sources.append(Source("Numéro ANEF", case.anef_number))
    if titre:
        sources.append(Source("Titre", titre, masked(titre)))
    if case.narrative:
        sources.append(Source("Récit", case.narrative, masked(case.narrative)))
    for event in case.events:
        text = labels.get(org, "evenement", event.type)
        passages: list[tuple[int, int]] = []
        if event.description:
            text += " · "
            passages.extend((a + len(text), b + len(text)) for a, b in masked(event.description))
            text += event.description
        if event.reference:
            # References (CCC tickets, LRAR numbers, names typed as a reference) are
            # identifiers: roles without identity neither match them nor see them.
            text += " · "
            passages.append((len(text), len(text) + len(event.reference)))
            text += event.reference
        sources.append(Source(f"Chronologie, {date_fr(event.date)}", text, passages))
    for exhibit in exhibits:
        if exhibit.description:
            sources.append(Source(f"Pièce n° {exhibit.number}", exhibit.description, masked(exhibit.description)))
        if exhibit.ocr_text:
            # Scanned titres, passports and letters carry birth dates, addresses, relatives'
            # names: the text read from a pièce is for roles that may see identities only.
            sources.append(Source(f"Pièce n° {exhibit.number}, texte lu", exhibit.ocr_text[:OCR_LIMIT]))
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
    """The person's own values that search indexes apart (field `person`)."""
    return {
        "names": [v for v in (person.first_name, person.last_name) if v],
        "numbers": [v for v in (person.numero_etranger,) if v],
        "phones": [v for v in (person.phone,) if v],
        "emails": [v for v in (person.email,) if v],
        "nationality": [v for v in (person.nationality,) if v],
    }


def _own_values(person_values: dict[str, list[str]]):
    """(folded names, numbers, emails) of the person: left out of the free-text fields, found
    through the `person` field by roles with identity only."""
    names = {analysis.fold(p) for v in person_values.get("names", [])
             for p in analysis.SEPARATORS.split(v) if len(p) > 1}
    names |= {analysis.transliterate(n) for n in names} - {""}
    numbers = {analysis.digits(v) for v in person_values.get("numbers", [])} - {""}
    for phone in person_values.get("phones", []):
        numbers.update(analysis.phone_terms(phone))
    emails = {v.lower() for v in person_values.get("emails", [])}
    return names, numbers, emails


def _blank_numbers(text: str, numbers: set[str]) -> str:
    """The person's phone-like numbers written with spaces (06 12 34 56 78) blanked out, offsets
    kept (masked passages are offsets into the text)."""
    if not numbers or not text:
        return text
    return PHONE_LIKE.sub(lambda m: " " * len(m.group()) if analysis.digits(m.group()) in numbers else m.group(),
                          text)


def public_sources(text: CaseText) -> list[Source]:
    """Sources a role without identity.view may match and see, as they see them (masked)."""
    return [Source(s.label, s.public, []) for s in text.sources if s.public_spans is not None]


def index_document(text: CaseText, *, counted: bool = False) -> dict:
    """The whoosh document of a case (pre-analysed fields: terms separated by spaces).

    `text`/`shingle` hold what every role may find: the masked public text, without compound
    identifiers. `ptext`/`pshingle` hold what only identity roles find on top of it (references,
    text read from pièces, what masking removed), `person` the person's record.
    """
    terms: list[str] = []
    shingles: list[str] = []
    private_terms: list[str] = []
    private_shingles: list[str] = []
    names, numbers, emails = _own_values(text.person_values)
    skip = (names, numbers, emails) if (names or numbers or emails) else None
    for source in text.sources:
        if source.personal:
            continue  # indexed below, field by field
        full = _blank_numbers(source.index_text if source.index_text is not None else source.text, numbers)
        if source.public_spans is None:
            source_terms, source_shingles = analysis.text_terms(full, skip)
            private_terms.extend(source_terms)
            private_shingles.extend(source_shingles)
            continue
        public, public_shingles, every, every_shingles = analysis.split_terms(full, source.public_spans, skip)
        terms.extend(public)
        shingles.extend(public_shingles)
        if len(every) != len(public):
            seen = set(public)
            private_terms.extend(t for t in every if t not in seen)
        if len(every_shingles) != len(public_shingles):
            seen = set(public_shingles)
            private_shingles.extend(t for t in every_shingles if t not in seen)
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
    # Prefixes of the reference from its last part on (LYO-2025-00…), and up to each separator;
    # the whole reference is the `ref` field (one unique term per case less to write).
    last = reference.rfind("-") + 1
    prefixes = {reference[:i] for i, c in enumerate(reference) if c == "-"} | {
        reference[:n] for n in range(max(last, 3), len(reference))}
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
        # `counted` (a rebuild): {term bytes: capped frequency}, what the bulk loader writes.
        "text": (analysis.count_terms if counted else analysis.join_terms)(terms),
        "shingle": (analysis.count_terms if counted else analysis.join_terms)(shingles),
        "ptext": (analysis.count_terms if counted else analysis.join_terms)(private_terms),
        "pshingle": (analysis.count_terms if counted else analysis.join_terms)(private_shingles),
        "person": (analysis.count_terms if counted else analysis.join_terms)(person),
    }


def build_documents(session: Session, case_ids, *, counted: bool = False) -> dict[int, dict | None]:
    """{case_id: whoosh document, or None when the case no longer exists}."""
    case_ids = list(dict.fromkeys(case_ids))
    labels = Labels(session)
    cases = {c.id: c for c in load_cases(session, case_ids)}
    exhibits = load_exhibits(session, list(cases))
    return {cid: (index_document(case_text(cases[cid], exhibits.get(cid, []), labels), counted=counted)
                  if cid in cases else None) for cid in case_ids}
