"""French grammar the requêtes need: elision (« d'Ana », « de Mme Diallo ») and naming a party
so that no gender is assumed when none is recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.core.formats import date_long

VOWELS = set("aeiouyàâäéèêëîïôöùûüœæAEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜŒÆ")
# « y » elides before a vowel sound only in a few words; before a name (« de Youssef ») it does not.
ELIDING = VOWELS - set("yY")


def elide(word: str, following: str) -> str:
    """« de » + « Ana » → « d'Ana » ; « de » + « Mme DIALLO » → « de Mme DIALLO »."""
    if following and following[0] in ELIDING and word in ("de", "que", "le", "la"):
        return f"{word[:-1]}'{following}"
    return f"{word} {following}"


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


@dataclass(frozen=True)
class Party:
    """The person for whom the requête is made, as the pleading names them."""

    first_name: str = ""
    last_name: str = ""
    civility: str = ""  # "", "M." or "Mme"
    birth_date: date | None = None
    birth_place: str = ""
    nationality: str = ""
    address: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name.strip(), self.last_name.strip().upper()) if p)

    @property
    def known(self) -> bool:
        return bool(self.full_name)

    @property
    def name(self) -> str:
        """« Mme Ana DIALLO », « Ana DIALLO », or « la partie requérante » when unknown."""
        if not self.known:
            return "la partie requérante"
        return f"{self.civility} {self.full_name}" if self.civility else self.full_name

    def of(self) -> str:
        """« d'Ana DIALLO », « de Mme Ana DIALLO », « de la partie requérante »."""
        return elide("de", self.name)

    def identity(self, domicile_unknown: str, birth_place_unknown: str) -> str:
        """The POUR line: name, birth, nationality, domicile. Agreement only with a recorded civility."""
        parts = [self.name]
        if self.birth_date:
            place = self.birth_place.strip() or birth_place_unknown
            born = f"le {date_long(self.birth_date)} à {place}"
            if self.civility == "Mme":
                parts.append(f"née {born}")
            elif self.civility == "M.":
                parts.append(f"né {born}")
            else:
                parts.append(f"date et lieu de naissance : {date_long(self.birth_date)}, {place}")
        if self.nationality:
            parts.append(f"de nationalité {self.nationality.strip()}")
        address = " ".join(self.address.split())
        parts.append(f"demeurant {address}" if address else f"domicile : {domicile_unknown}")
        return ", ".join(parts)
