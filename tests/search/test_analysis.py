"""French analysis: folding before stemming, both directions, scripts, identifiers."""

from app.search import analysis


def terms(text: str) -> set[str]:
    return set(analysis.text_terms(text)[0])


def test_accents_meet_in_both_directions():
    assert terms("récépissé") & terms("recepisse")
    assert terms("recepisse") & terms("récépissé")
    assert terms("préfecture") == terms("prefecture")
    assert terms("délivrée") & terms("delivree")


def test_french_stemming_across_forms():
    assert terms("licenciée") & terms("licenciement")
    assert terms("licenciee") & terms("licenciement")
    assert terms("attestations") == terms("attestation")
    assert terms("expirée") & terms("expiration")


def test_stop_words_dropped_but_rendez_vous_kept_whole():
    assert terms("de la") == set()
    assert "rendez-vous" in terms("Un rendez-vous en préfecture")


def test_elision_removed():
    assert terms("l'attestation") == terms("attestation")
    assert terms("d'API") == terms("API")


def test_identifiers_whole_and_parts():
    found = terms("ticket 2025-CCC-884213")
    assert {"2025-ccc-884213", "884213", "2025"} <= found
    assert "anef-69-2025-000012" in terms("ANEF-69-2025-000012")


def test_other_scripts_are_folded():
    assert analysis.fold("Nguyễn Văn Đức") == "nguyen van duc"
    assert analysis.fold("Ёлкин") == analysis.fold("Елкин")
    assert analysis.fold("أحمد") == analysis.fold("احمد")
    assert "ivanov" in analysis.name_terms("Иванов")


def test_shingles_make_phrases():
    _terms, shingles = analysis.text_terms("Le titre de séjour a expiré")
    assert "titr_sejour" in shingles
    assert analysis.text_terms("titre de sejour")[1] == ["titr_sejour"]
