"""Likely duplicate donors: which recorded donors a donor may be, with a score and its reasons.

Signals, each with its points (a pair scores their sum, at most 100):
- the names (half as much for donors in different countries): the same name key
  (donors.names: case, accents, scripts, punctuation, "&", "The" and legal suffixes set aside)
  scores NAME_SAME; otherwise the keys' trigram similarity (pg_trgm's measure, computed in
  Python by donors.names.similarity: the embedded PostgreSQL ships no pg_trgm) scores up to NAME_SAME;
- the same external reference: EXTERNAL_REF;
- the same contact email: EMAIL; else a contact at the same email domain: DOMAIN (a webmail
  domain such as gmail.com says nothing about who a donor is and never counts);
- the same country and kind: COUNTRY_KIND, which can only add to other signals: alone it is
  far below LIKELY, so two unrelated foundations in one country are never a pair.

A pair scoring LIKELY or more is a likely duplicate: adding such a donor (admin, import) needs
the user's confirmation, and the pair is listed for Finance's review until it is merged or
dismissed as two donors (DuplicateDismissal).
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q

from .models import Contact, Donor, DuplicateDismissal
from .names import name_key, similarity, trigram_overlap, trigrams

NAME_SAME = 60
EXTERNAL_REF = 40
EMAIL = 40
DOMAIN = 20
COUNTRY_KIND = 10
LIKELY = 50
# Trigram similarity below this says nothing about two names (pg_trgm's own default is 0.3).
SIMILAR_FROM = 0.4
# The trigram search looks only for names alike enough to make a likely pair with the country
# and kind (0.67); pairs with other signals are found by those signals.
SEARCH_FROM = round((LIKELY - COUNTRY_KIND) / NAME_SAME, 2)


def _alike(key: str, others) -> dict[int, float]:
    """{donor id: similarity} of the (id, key) pairs whose keys are alike enough to matter."""
    found = {}
    for pk, other in others:
        if other and (alike := similarity(key, other)) >= SEARCH_FROM:
            found[pk] = alike
    return found


_WEBMAIL = """
    gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de ymail.com hotmail.com hotmail.co.uk
    hotmail.fr outlook.com live.com live.co.uk msn.com icloud.com me.com mac.com aol.com proton.me
    protonmail.com pm.me gmx.com gmx.de gmx.net web.de t-online.de orange.fr free.fr laposte.net
    mail.com mail.ru yandex.ru yandex.com rambler.ru qq.com 163.com 126.com sina.com naver.com
    zoho.com fastmail.com hey.com tutanota.com btinternet.com sky.com virginmedia.com
"""
WEBMAIL_DOMAINS = frozenset(_WEBMAIL.split())


@dataclass
class DonorFacts:
    """What detection compares of one donor, recorded or about to be."""

    name: str
    country: str
    kind: str
    external_ref: str = ""
    emails: set[str] = field(default_factory=set)
    id: int | None = None

    @property
    def key(self) -> str:
        return name_key(self.name)

    @property
    def domains(self) -> set[str]:
        return {email.rsplit("@", 1)[-1] for email in self.emails} - WEBMAIL_DOMAINS


@dataclass(frozen=True)
class DuplicatePair:
    donor: Donor  # the recorded donor
    score: int
    reasons: tuple[str, ...]
    other: Donor | None = None  # in the review list: the pair's other recorded donor

    def __str__(self):
        return f"{self.donor} (score {self.score}: {'; '.join(self.reasons)})"


def pair_score(new: DonorFacts, old: DonorFacts, similarity: float) -> tuple[int, tuple[str, ...]]:
    """The score of two donors and the reasons for it, strongest first."""
    points, reasons = 0, []
    # One name in two countries is often two bodies (every government has a Ministry of Foreign
    # Affairs): there the name counts half.
    weight = 1 if new.country == old.country else 0.5
    if new.key and new.key == old.key:
        points += round(NAME_SAME * weight)
        reasons.append(f"same name once case, accents, punctuation and legal suffixes are set aside ({old.key!r})")
    elif similarity >= SIMILAR_FROM:
        points += round(NAME_SAME * similarity * weight)
        reasons.append(f"names {round(similarity * 100)}% alike (trigram similarity)")
    if weight < 1 and reasons:
        reasons.append(f"but in different countries ({new.country}, {old.country}): the name counts half")
    if new.external_ref and new.external_ref.casefold() == old.external_ref.casefold():
        points += EXTERNAL_REF
        reasons.append(f"same external reference {old.external_ref!r}")
    shared = new.emails & old.emails
    if shared:
        points += EMAIL
        reasons.append(f"same contact email {sorted(shared)[0]}")
    elif new.domains & old.domains:
        points += DOMAIN
        reasons.append(f"contacts at the same email domain {sorted(new.domains & old.domains)[0]}")
    if points and new.country == old.country and new.kind == old.kind:
        points += COUNTRY_KIND
        reasons.append(f"same country ({old.country}) and kind ({old.kind})")
    return min(points, 100), tuple(reasons)


def _emails(donor_ids) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for donor_id, email in Contact.objects.filter(donor_id__in=donor_ids).values_list("donor_id", "email"):
        found.setdefault(donor_id, set()).add(email.casefold())
    return found


def _facts(donor: Donor, emails: set[str]) -> DonorFacts:
    return DonorFacts(
        name=donor.name,
        country=donor.country,
        kind=donor.kind,
        external_ref=donor.external_ref,
        emails=emails,
        id=donor.pk,
    )


def duplicates_of(facts: DonorFacts, *, threshold: int = LIKELY) -> list[DuplicatePair]:
    """The recorded (unmerged) donors that `facts` likely duplicates, highest score first.

    One query finds the candidates (a name alike through the trigram index, the same external
    reference, a contact at the same address or non-webmail domain); a second reads their
    contacts' emails for the score.
    """
    key = facts.key
    emails = {e.casefold() for e in facts.emails}
    facts.emails = emails
    recorded = Donor.objects.unmerged().exclude(pk=facts.id)
    alike = _alike(key, recorded.values_list("pk", "name_key")) if key else {}
    match = Q(pk__in=list(alike))
    if facts.external_ref:
        match |= Q(external_ref__iexact=facts.external_ref)
    if emails:
        match |= Q(contacts__email__in=emails)
    for domain in facts.domains:
        match |= Q(contacts__email__iendswith=f"@{domain}")
    candidates = list(recorded.filter(match).distinct())
    if facts.id:
        dismissed = _dismissed_with(facts.id)
        candidates = [c for c in candidates if c.pk not in dismissed]
    recorded_emails = _emails([c.pk for c in candidates])
    pairs = []
    for candidate in candidates:
        recorded = _facts(candidate, recorded_emails.get(candidate.pk, set()))
        score, reasons = pair_score(facts, recorded, similarity(key, candidate.name_key) if key else 0.0)
        if score >= threshold:
            pairs.append(DuplicatePair(donor=candidate, score=score, reasons=reasons))
    return sorted(pairs, key=lambda p: (-p.score, p.donor.ref))


def _dismissed_with(donor_id: int) -> set[int]:
    rows = DuplicateDismissal.objects.filter(Q(donor_low=donor_id) | Q(donor_high=donor_id))
    return {low if low != donor_id else high for low, high in rows.values_list("donor_low", "donor_high")}


# The candidate pairs among recorded donors by the other signals, each its own join so that none
# compares every donor with every other: the same external reference, contacts at one non-webmail
# domain. Names alike come from _alike_pairs. Scored in Python with pair_score, the one home of the rule.
_PAIRS_SQL = """
    WITH domains AS (
        SELECT DISTINCT c.donor_id, lower(split_part(c.email, '@', 2)) AS domain
        FROM donors_contact c
        WHERE lower(split_part(c.email, '@', 2)) <> ALL(%s)
    ),
    candidates AS (
        SELECT a.id AS low, b.id AS high FROM donors_donor a JOIN donors_donor b
            ON lower(a.external_ref) = lower(b.external_ref) AND a.external_ref <> '' AND a.id < b.id
        UNION
        SELECT a.donor_id, b.donor_id FROM domains a JOIN domains b ON a.domain = b.domain AND a.donor_id < b.donor_id
    )
    SELECT c.low, c.high
    FROM candidates c JOIN donors_donor a ON a.id = c.low JOIN donors_donor b ON b.id = c.high
    WHERE a.merged_into_id IS NULL AND b.merged_into_id IS NULL
      AND NOT EXISTS (
        SELECT 1 FROM donors_duplicatedismissal d WHERE d.donor_low_id = c.low AND d.donor_high_id = c.high
      )
"""


def _alike_pairs() -> set[tuple[int, int]]:
    """(low id, high id) of unmerged donors whose name keys are alike (SEARCH_FROM), found through
    the trigrams they share rather than by comparing every donor with every other."""
    grams = {
        pk: trigrams(key) for pk, key in Donor.objects.unmerged().exclude(name_key="").values_list("pk", "name_key")
    }
    holders = defaultdict(list)
    for pk, found in grams.items():
        for gram in found:
            holders[gram].append(pk)
    pairs = set()
    for pk, found in grams.items():
        others = {other for gram in found for other in holders[gram] if other > pk}
        pairs.update((pk, o) for o in others if trigram_overlap(found, grams[o]) >= SEARCH_FROM)
    return pairs


def duplicate_pairs(*, threshold: int = LIKELY) -> list[DuplicatePair]:
    """Every likely pair among recorded, unmerged donors not dismissed, highest score first: Finance's review list."""
    with connection.cursor() as cursor:
        cursor.execute(_PAIRS_SQL, [sorted(WEBMAIL_DOMAINS)])
        rows = {(low, high) for low, high in cursor.fetchall()}
    rows |= _alike_pairs() - set(DuplicateDismissal.objects.values_list("donor_low", "donor_high"))
    ids = {i for pair in rows for i in pair}
    donors = Donor.objects.in_bulk(ids)
    emails = _emails(ids)
    pairs = []
    for a, b in rows:
        first, second = donors[a], donors[b]
        score, reasons = pair_score(
            _facts(second, emails.get(b, set())),
            _facts(first, emails.get(a, set())),
            similarity(first.name_key, second.name_key),
        )
        if score >= threshold:
            pairs.append(DuplicatePair(donor=first, other=second, score=score, reasons=reasons))
    return sorted(pairs, key=lambda p: (-p.score, p.donor.ref, p.other.ref))


def duplicate_dismiss(*, donor_a: Donor, donor_b: Donor, by) -> DuplicateDismissal:
    """Record that two donors are not one: the pair is never offered again."""
    low, high = sorted([donor_a.pk, donor_b.pk])
    dismissal, _ = DuplicateDismissal.objects.get_or_create(
        donor_low_id=low, donor_high_id=high, defaults={"dismissed_by": by}
    )
    return dismissal
