"""Likely duplicate donors: the name key, the score and its reasons, and no pair from country and kind alone."""

import pytest

from donors.duplicates import (
    COUNTRY_KIND,
    LIKELY,
    NAME_SAME,
    DonorFacts,
    duplicate_dismiss,
    duplicate_pairs,
    duplicate_review_page,
    duplicates_of,
    pair_score,
)
from donors.merge import donor_merge
from donors.models import Donor
from donors.names import name_key, similarity
from tests.factories import ContactFactory, DonorFactory, role_user


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("The Oakridge Foundation Ltd.", "Oakridge Foundation"),
        ("Smith & Partners", "Smith and Partners Ltd"),
        ("Société Générale S.A.", "SOCIETE GENERALE"),
        ("Müller Stiftung GmbH", "Muller Stiftung"),
        ("ACME, Inc.", "Acme Incorporated"),
        ("Nordic Child-Protection Trust", "nordic child protection trust"),
        ("Министерство финансов", "Ministerstvo finansov"),
    ],
)
def test_spellings_of_one_name_give_one_key(one, other):
    assert name_key(one) == name_key(other) != ""


def test_different_names_give_different_keys():
    assert name_key("Oakridge Foundation") != name_key("Oakridge Trust")
    assert name_key("The") == "the"  # a name of one word keeps it


def _facts(**kw):
    return DonorFacts(**{"name": "x", "country": "GB", "kind": "foundation", **kw})


def test_the_same_name_key_scores_with_its_reasons(db):
    recorded = DonorFactory(name="Oakridge Foundation", country="GB", kind="foundation")
    [pair] = duplicates_of(_facts(name="The Oakridge Foundation Ltd"))
    assert pair.donor == recorded
    assert pair.score == NAME_SAME + COUNTRY_KIND == 70
    assert pair.reasons == (
        "same name once case, accents, punctuation and legal suffixes are set aside ('oakridge foundation')",
        "same country (GB) and kind (foundation)",
    )


def test_a_transliteration_is_found_by_trigram_similarity(db):
    recorded = DonorFactory(name="Министерство иностранных дел Российской Федерации", country="RU", kind="government")
    [pair] = duplicates_of(
        _facts(name="Ministerstvo inostrannykh del Rossiyskoy Federatsii", country="RU", kind="government")
    )
    assert pair.donor == recorded
    assert pair.reasons[0] == "names 84% alike (trigram similarity)"
    assert pair.score == round(NAME_SAME * 0.84) + COUNTRY_KIND


def test_same_country_and_kind_alone_is_no_pair(db):
    for name in ("Oakridge Foundation", "Harbour Light Trust", "Northern Lights Fund", "Blue Sky Charity"):
        DonorFactory(name=name, country="GB", kind="foundation")
    assert duplicates_of(_facts(name="Silver Birch Foundation")) == []
    assert duplicate_pairs() == []


def test_one_name_in_two_countries_counts_half_and_is_no_pair(db):
    DonorFactory(name="Ministry of Foreign Affairs", country="NO", kind="government")
    assert duplicates_of(_facts(name="Ministry of Foreign Affairs", country="SE", kind="government")) == []
    [pair] = duplicates_of(_facts(name="Ministry of Foreign Affairs", country="SE", kind="government"), threshold=1)
    assert pair.score == NAME_SAME // 2
    assert pair.reasons[-1] == "but in different countries (SE, NO): the name counts half"


def test_the_same_external_reference_and_email(db):
    recorded = DonorFactory(name="Lumen Data", country="US", kind="company", external_ref="SF-0042")
    ContactFactory(donor=recorded, email="giving@lumen.example.com")
    [pair] = duplicates_of(_facts(name="Totally Different", country="US", kind="company", external_ref="sf-0042"))
    assert pair.score == 40 + COUNTRY_KIND
    assert pair.reasons[0] == "same external reference 'SF-0042'"
    [pair] = duplicates_of(_facts(name="Other", country="US", kind="company", emails={"Giving@lumen.example.com"}))
    assert pair.reasons[0] == "same contact email giving@lumen.example.com"
    [pair] = duplicates_of(
        _facts(name="Lumen Data Services", country="US", kind="company", emails={"a@lumen.example.com"})
    )
    assert "contacts at the same email domain lumen.example.com" in pair.reasons


def test_a_webmail_domain_is_no_signal(db):
    recorded = DonorFactory(name="Anna Berg", country="SE", kind="individual")
    ContactFactory(donor=recorded, email="anna.berg@gmail.com")
    other = DonorFactory(name="Piotr Nowak", country="SE", kind="individual")
    ContactFactory(donor=other, email="p.nowak@gmail.com")
    assert duplicates_of(_facts(name="Jan Kowalski", country="SE", kind="individual", emails={"jan@gmail.com"})) == []
    assert duplicate_pairs() == []


def test_the_review_list_scores_pairs_and_forgets_dismissed_and_merged_ones(db):
    finance = role_user("Finance")
    oak = DonorFactory(name="Oakridge Foundation")
    the_oak = DonorFactory(name="The Oakridge Foundation Ltd")
    muller = DonorFactory(name="Müller Stiftung GmbH", country="DE")
    mueller = DonorFactory(name="Mueller Stiftung", country="DE")
    DonorFactory(name="Harbour Light Trust")
    pairs = duplicate_pairs()
    assert [(p.donor, p.other, p.score) for p in pairs] == [(oak, the_oak, 70), (muller, mueller, 54)]
    assert all(p.score >= LIKELY for p in pairs)
    duplicate_dismiss(donor_a=mueller, donor_b=muller, by=finance)
    assert [(p.donor, p.other) for p in duplicate_pairs()] == [(oak, the_oak)]
    assert duplicates_of(DonorFacts(name=mueller.name, country="DE", kind=mueller.kind, id=mueller.pk)) == []
    donor_merge(survivor=oak, loser=the_oak, by=finance)
    assert duplicate_pairs() == []


@pytest.mark.parametrize(
    "a, b, expected",
    [("word", "word", 1.0), ("word", "two words", 4 / 11), ("oakridge foundation", "", 0.0), ("ab", "ba", 0.0)],
)
def test_similarity_is_pg_trgms_measure(a, b, expected):
    """As PostgreSQL answers: similarity('word', 'two words') = 0.363636 (4 shared trigrams of 11)."""
    from donors.names import similarity

    assert similarity(a, b) == pytest.approx(expected)


# The review list's search: the same pairs and scores as comparing every two donors ------------------


def every_pair(threshold=LIKELY):
    """The review list as comparing every two unmerged donors gives it: the rule without the search."""
    donors = list(Donor.objects.unmerged().order_by("pk"))
    emails = {d.pk: {c.email.casefold() for c in d.contacts.all()} for d in donors}
    pairs = []
    for i, first in enumerate(donors):
        for second in donors[i + 1 :]:
            score, reasons = pair_score(
                DonorFacts(second.name, second.country, second.kind, second.external_ref, emails[second.pk]),
                DonorFacts(first.name, first.country, first.kind, first.external_ref, emails[first.pk]),
                similarity(first.name_key, second.name_key),
            )
            if score >= threshold:
                pairs.append((first.ref, second.ref, score, reasons))
    return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))


def listed(pairs):
    return [(p.donor.ref, p.other.ref, p.score, p.reasons) for p in pairs]


def test_the_search_finds_the_pairs_and_scores_of_comparing_every_two_donors(db):
    for name, country in [
        ("Oakridge Foundation", "GB"), ("The Oakridge Foundation Ltd", "GB"), ("Müller Stiftung GmbH", "DE"),
        ("Mueller Stiftung", "DE"), ("Harbour Light Trust", "GB"), ("Harbour Lights Trust", "GB"),
        ("Министерство финансов", "GB"), ("Ministerstvo finansov", "GB"), ("Oakridge Foundation", "FR"),
        ("Nordic Child-Protection Trust", "GB"), ("Nordic Child Protection", "GB"), ("A", "GB"), ("Ab", "GB"),
    ]:  # fmt: skip
        DonorFactory(name=name, country=country)
    for n in range(1, 121):  # names that differ by a number share most trigrams: many pairs
        DonorFactory(name=f"Supporter {n:05d}", kind="individual")
    ContactFactory(donor=Donor.objects.get(name="Harbour Light Trust"), email="a@harbour.org")
    ContactFactory(donor=Donor.objects.get(name="A"), email="b@harbour.org")
    expected = every_pair()
    assert len(expected) > 500
    assert listed(duplicate_pairs()) == expected
    # Page by page, each pair once, on its older donor's page; pages cut short where names are alike by the dozen.
    listed_pages, after, sizes = [], 0, []
    while True:
        page = duplicate_review_page(after=after, donors=7, candidates=40)
        listed_pages += listed(page.pairs)
        sizes.append(page.donors)
        if not page.more:
            break
        after = page.last_id
    assert sorted(listed_pages) == sorted(expected)
    assert max(sizes) == 7 and min(sizes) == 1  # 7 donors a page, one where a Supporter has 40 alike


def test_the_review_page_lists_its_donors_pairs_page_by_page(client, db, monkeypatch):
    monkeypatch.setattr("donors.admin_merge.DONORS_PER_PAGE", 2)
    oak, the_oak = DonorFactory(name="Oakridge Foundation"), DonorFactory(name="The Oakridge Foundation Ltd")
    harbour = DonorFactory(name="Harbour Light Trust")
    muller = DonorFactory(name="Müller Stiftung GmbH", country="DE")
    DonorFactory(name="Mueller Stiftung", country="DE")
    client.force_login(role_user("Finance"))
    first = client.get("/admin/donors/donor/duplicates/")
    assert [(p.donor, p.other) for p in first.context["pairs"]] == [(oak, the_oak)]
    assert "The pairs of 2 donors" in first.content.decode() and f"?after={the_oak.pk}" in first.content.decode()
    second = client.get(f"/admin/donors/donor/duplicates/?after={the_oak.pk}")  # Harbour, Müller
    assert [(p.donor.name, p.other.name, p.score) for p in second.context["pairs"]] == [
        ("Müller Stiftung GmbH", "Mueller Stiftung", 54)
    ]
    assert f"?after={muller.pk}" in second.content.decode() and harbour.pk < muller.pk
    third = client.get(f"/admin/donors/donor/duplicates/?after={muller.pk}")  # Mueller: its pair is on Müller's page
    assert third.context["pairs"] == [] and "No likely duplicates among these donors." in third.content.decode()
    assert "Next page" not in third.content.decode()
