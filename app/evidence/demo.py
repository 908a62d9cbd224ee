"""Demo exhibits: generated ANEF error screenshots and photographed letters, attached to the demo
cases' events with their nature (OCR left to the queue).

Most cases get one or two screenshots; some are « well documented »: a screenshot for every day
of attempts and a pièce for every letter, decision, order and harm of the timeline (plus the
passport), so that the demo shows cases whose every fact is proven next to cases that lack pièces.
"""

from __future__ import annotations

import io
import random
import textwrap
from datetime import date, datetime, time, timedelta

from PIL import Image, ImageDraw
from sqlalchemy import select

from app.cases.models import Case
from app.core import departements
from app.evidence.screenshots import MESSAGES, anef_screenshot, font
from app.evidence.services import add_exhibit

SHARE = 0.7  # of demo cases that get screenshots
WELL_DOCUMENTED = 0.35  # of demo cases whose every fact gets its pièce
ATTEMPTS = ("TENTATIVE", "ERREUR")
# Blocking codes whose screen only shows once a request is deposited (same list as app/demo.py).
AFTER_DEPOSIT_ONLY = {"INSTR-SILENCE", "API-ABS", "API-RENOUV", "API-MENTION", "CLOS", "CARTE"}
LETTER_SIZE = (760, 980)


def seed_demo_exhibits(org, users, today, **_ignored) -> int:
    """Attach screenshots (and, for some cases, letters) to the association's cases; returns how many."""
    rng = random.Random(f"exhibits-{org.slug}")  # noqa: S311 - deterministic demo data
    actor = users.get("volunteer")
    added = 0
    for case in list(db_cases(org.id)):
        documented = rng.random() < WELL_DOCUMENTED
        if documented:
            added += _screenshots_for_every_attempt(rng, case, actor)
            added += _letters(rng, case, actor, today)
        elif rng.random() <= SHARE:
            added += _screenshots(rng, case, actor)
    return added


def _screenshot(rng, case, actor, day: date, number: int, event_id: int | None, again: bool) -> None:
    code = case.blocages[0] if case.blocages and case.blocages[0] in MESSAGES else "DEP-ERREUR"
    deposits = [e.date for e in case.events if e.type == "DEPOT"]
    if code in AFTER_DEPOSIT_ONLY and (not deposits or day < min(deposits)):
        code = "DEP-ERREUR"  # before the deposit, the screen showed a deposit error
    title, message = MESSAGES[code]
    shot_at = datetime.combine(day, time(rng.randint(9, 18), rng.randint(0, 59)))
    details = [f"Référence de la demande : {case.anef_number or 'non attribuée'}",
               f"Date : {shot_at.strftime('%d/%m/%Y à %H:%M')}",
               f"Code erreur : ANEF-{rng.randint(1000, 9999)}"]
    png = anef_screenshot(title, message, details=details, footer=f"Capture d'écran · tentative n° {number}")
    add_exhibit(case, png, f"capture-anef-{day.isoformat()}-{number}.png", actor,
                description=f"Capture d'écran de l'ANEF : « {title} »" + (" (nouvelle tentative)" if again else ""),
                captured_at=shot_at, event_id=event_id, nature="CAPTURE")


def _screenshots(rng, case, actor) -> int:
    """One or two screenshots, attached to the first attempts (or dated like the case)."""
    errors = [e for e in case.events if e.type in ATTEMPTS] or list(case.events)
    count = rng.choice((1, 1, 2))
    for i in range(count):
        event = errors[i] if i < len(errors) else None
        _screenshot(rng, case, actor, event.date if event else case.opened_on, i + 1,
                    event.id if event else None, again=bool(i))
    return count


def _screenshots_for_every_attempt(rng, case, actor) -> int:
    """One screenshot per day of attempts: attached to the attempt, or — when a failed attempt and its
    error share the day — to neither, captured that day, so that it proves both."""
    by_day: dict[date, list] = {}
    for event in sorted(case.events, key=lambda e: (e.date, e.id)):
        if event.type in ATTEMPTS:
            by_day.setdefault(event.date, []).append(event)
    for number, (day, events) in enumerate(by_day.items(), start=1):
        _screenshot(rng, case, actor, day, number, events[0].id if len(events) == 1 else None, again=number > 1)
    return len(by_day)


def _letters(rng, case, actor, today: date) -> int:
    """A photographed letter for each event that a letter proves, and a copy of the passport."""
    dep = departements.get(case.prefecture)
    place = dep.prefecture if dep else "la préfecture"
    prefet = dep.prefet if dep else "préfet"
    tribunal = dep.tribunal_administratif if dep else ""
    added = 0
    for event in sorted(case.events, key=lambda e: (e.date, e.id)):
        letter = _letter_for(event, case, place, prefet, tribunal, rng)
        if letter is None:
            continue
        nature, stem, description, header, title, lines, received = letter
        png = _letter_png(header, title, lines)
        taken = datetime.combine(min(received, today), time(rng.randint(9, 18), rng.randint(0, 59)))
        add_exhibit(case, png, f"{stem}-{event.date.isoformat()}.png", actor, description=description,
                    captured_at=taken, event_id=event.id, nature=nature)
        added += 1
    person = case.person
    if person is not None and person.last_name:
        issued = date(2019 + rng.randint(0, 4), rng.randint(1, 12), rng.randint(1, 28))
        lines = [f"Nom : {person.last_name.upper()}", f"Prénoms : {person.first_name}",
                 f"Nationalité : {person.nationality or '—'}",
                 f"Date de naissance : {person.birth_date.strftime('%d/%m/%Y') if person.birth_date else '—'}",
                 f"Lieu de naissance : {person.birth_place or '—'}",
                 f"Passeport n° {rng.choice('ABCDEFGH')}{rng.randint(1000000, 9999999)}",
                 f"Délivré le {issued.strftime('%d/%m/%Y')}, valable dix ans"]
        add_exhibit(case, _letter_png("PASSEPORT", "Copie des pages d'identité", lines),
                    f"passeport-{case.reference}.png", actor, description="Copie du passeport (pages d'identité)",
                    nature="PASSEPORT")
        added += 1
    return added


def _letter_for(event, case, place, prefet, tribunal, rng):
    """(nature, file stem, description, header, title, lines, day photographed) or None."""
    day = event.date.strftime("%d/%m/%Y")
    ref = event.reference
    later = event.date + timedelta(days=rng.randint(2, 5))
    if event.type in ("PREF", "SUBST") and ref:
        return ("ACCUSE-LRAR", "accuse-lrar", f"Accusé de réception de la lettre recommandée n° {ref} du {day}",
                "La Poste — Avis de réception", "Lettre recommandée avec avis de réception",
                [f"N° {ref}", f"Expédiée le {day}", f"Destinataire : {prefet[0].upper() + prefet[1:]}",
                 f"Préfecture, {place}", f"Distribuée le {later.strftime('%d/%m/%Y')}", "Signature : illisible"],
                later)
    if event.type == "PREF":
        return ("COURRIEL", "courriel-prefecture", f"Courriel envoyé à la préfecture le {day}",
                "Messagerie — élément envoyé", f"À : préfecture de {place}",
                [f"Envoyé le {day}", "Objet : blocage de la demande de titre de séjour sur l'ANEF",
                 event.description, f"Référence ANEF : {case.anef_number or 'non attribuée'}"], event.date)
    if event.type == "DEPOT":
        return ("ATTESTATION", "attestation-depot", f"Attestation de dépôt de la demande du {day}",
                "ANEF — Attestation de dépôt", "Attestation de dépôt d'une demande de titre de séjour",
                [f"Demande n° {case.anef_number or '—'}", f"Déposée le {day}",
                 "Cette attestation ne justifie pas de la régularité du séjour."], event.date)
    if event.type == "API":
        end = event.date + timedelta(days=91)
        return ("ATTESTATION", "api", f"Attestation de prolongation d'instruction du {day}",
                "ANEF — Attestation de prolongation d'instruction", "Attestation de prolongation d'instruction",
                [f"Demande n° {case.anef_number or '—'}", f"Délivrée le {day}",
                 f"Valable jusqu'au {end.strftime('%d/%m/%Y')}", "Article R. 431-15-1 du CESEDA"], event.date)
    if event.type in ("REFUS", "OQTF"):
        what = ("portant refus de délivrance d'un titre de séjour" if event.type == "REFUS" else
                "portant obligation de quitter le territoire français")
        return ("DECISION", "arrete-" + event.type.lower(), f"Arrêté du {prefet} {what}, notifié le {day}",
                f"Préfecture — {place}", f"Arrêté {what}",
                [f"Le {prefet},", "Vu le code de l'entrée et du séjour des étrangers et du droit d'asile,",
                 "ARRÊTE :", event.description, f"Notifié le {day}",
                 "Voies et délais de recours : voir au verso."], event.date)
    if event.type == "ORDONNANCE":
        dispositif = ("Il est enjoint au préfet d'enregistrer la demande et de délivrer une attestation "
                      "sous quinze jours, sous astreinte de 100 euros par jour de retard."
                      if event.outcome == "INJONCTION" else "La requête est rejetée.")
        return ("ORDONNANCE", "ordonnance", f"Ordonnance du juge des référés du {day} (requête n° {ref or '—'})",
                f"Tribunal administratif de {tribunal}", "Ordonnance du juge des référés",
                [f"Requête n° {ref or '—'}", f"Ordonnance du {day}", "ORDONNE :", dispositif], later)
    if event.type == "EMPLOI":
        return ("EMPLOI", "courrier-employeur", f"Courrier de l'employeur du {day}",
                "Courrier de l'employeur", "Suspension du contrat de travail",
                [f"Le {day},", event.description,
                 "Le contrat reprendra dès la présentation d'un document autorisant à travailler."], later)
    if event.type == "PRESTA":
        return ("PRESTATIONS", "notification-prestations", f"Notification de suspension des droits du {day}",
                "Notification de suspension des droits", "Vos droits sont suspendus",
                [f"Le {day},", event.description, "Motif : titre de séjour en cours de validité non fourni."], later)
    if event.type == "TITRE-EXP":
        return ("TITRE", "titre-expire", f"Copie du titre de séjour expiré le {day}",
                "République française — Titre de séjour", f"Titre de séjour « {case.titre_actuel or '—'} »",
                [f"Valable jusqu'au {day}", f"Délivré par le {prefet}"], event.date)
    return None


def _letter_png(header: str, title: str, lines: list[str]) -> bytes:
    """A plain photographed-letter image: header band, title, wrapped lines."""
    width, height = LETTER_SIZE
    image = Image.new("L", LETTER_SIZE, 250)  # greyscale: a photocopy, and four times faster to encode
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 70), fill=228)
    draw.text((36, 22), header, font=font(22, bold=True), fill=30)
    y = 110
    for line in textwrap.wrap(title, width=44):
        draw.text((36, y), line, font=font(26, bold=True), fill=30)
        y += 38
    y += 20
    for paragraph in lines:
        for line in textwrap.wrap(paragraph, width=56) or [""]:
            if y > height - 40:
                break
            draw.text((36, y), line, font=font(20), fill=42)
            y += 30
        y += 8
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def db_cases(org_id: int):
    from sqlalchemy.orm import selectinload

    from app.extensions import db

    return db.session.scalars(select(Case).where(Case.org_id == org_id)
                              .options(selectinload(Case.events), selectinload(Case.codes))
                              .order_by(Case.id))
