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

import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q

from .models import Contact, Donor, DuplicateDismissal
from .names import name_key, similarity, trigram_share, trigrams

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
    name_key: str | None = None  # a recorded donor's stored key (Donor.name_key): not worked out again

    @property
    def key(self) -> str:
        return name_key(self.name) if self.name_key is None else self.name_key

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
        name_key=donor.name_key,
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


class NameIndex:
    """The trigrams of every unmerged donor's name key, as bit masks (one bit per trigram), and the
    donors holding each trigram: what finds the donors whose names are alike (SEARCH_FROM) without
    building two sets for every two donors."""

    def __init__(self):
        rows = Donor.objects.unmerged().exclude(name_key="").order_by("pk").values_list("pk", "name_key")
        bits: dict[str, int] = {}
        self.ids: list[int] = []
        self.masks: list[int] = []
        self.sizes: list[int] = []
        self.grams: list[frozenset[str]] = []
        self.holders: dict[str, list[int]] = defaultdict(list)  # trigram: positions in self.ids
        holders, bit = self.holders, bits.setdefault
        for position, (pk, key) in enumerate(rows):
            found = trigrams(key)
            mask = 0
            for gram in found:
                mask |= 1 << bit(gram, len(bits))
                holders[gram].append(position)
            self.ids.append(pk)
            self.masks.append(mask)
            self.sizes.append(len(found))
            self.grams.append(found)
        self.at = {pk: position for position, pk in enumerate(self.ids)}

    def alike_after(self, pk: int) -> set[int]:
        """The donors with a greater id whose name keys are alike `pk`'s: pg_trgm's similarity (shared
        trigrams over all of both, as donors.names.trigram_overlap) at least SEARCH_FROM.

        A name alike, x being `pk`'s trigrams, shares at least SEARCH_FROM x |x| of them (all of both
        has at least |x|), so it holds one of any |x| - that + 1 of x's trigrams (rounded down, so
        never too few): the donors holding the rarest ones are the only candidates. Where those
        are most donors anyway (names that differ by a number), every later donor is compared."""
        position = self.at.get(pk)
        if position is None or not self.sizes[position]:
            return set()
        mask, size = self.masks[position], self.sizes[position]
        shared_at_least = max(math.floor(SEARCH_FROM * size), 1)
        rarest = sorted(self.grams[position], key=lambda gram: (len(self.holders[gram]), gram))
        lists = [self.holders[gram] for gram in rarest[: size - shared_at_least + 1]]
        if sum(map(len, lists)) < len(self.ids) - position:
            candidates = {other for found in lists for other in found if other > position}
        else:
            candidates = range(position + 1, len(self.ids))
        alike = set()
        for other in candidates:
            shared = (mask & self.masks[other]).bit_count()
            if shared >= shared_at_least and trigram_share(shared, size, self.sizes[other]) >= SEARCH_FROM:
                alike.add(self.ids[other])
        return alike


def _signal_pairs(first_ids=None) -> set[tuple[int, int]]:
    """(low id, high id) of the candidate pairs by the other signals (_PAIRS_SQL); only those whose low
    id is in `first_ids`, when given."""
    sql, params = _PAIRS_SQL, [sorted(WEBMAIL_DOMAINS)]
    if first_ids is not None:
        sql, params = sql + " AND c.low = ANY(%s)", [*params, list(first_ids)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(low, high) for low, high in cursor.fetchall()}


def _scored(rows: set[tuple[int, int]], threshold: int) -> list[DuplicatePair]:
    """The candidate pairs (low id, high id) not dismissed, scored by pair_score; the likely ones, highest first."""
    lows = {low for low, _ in rows}
    rows = rows - set(DuplicateDismissal.objects.filter(donor_low__in=lows).values_list("donor_low", "donor_high"))
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


def duplicate_pairs(*, threshold: int = LIKELY, first_ids=None) -> list[DuplicatePair]:
    """Every likely pair among recorded, unmerged donors not dismissed, highest score first. With
    `first_ids`, only the pairs whose first (older) donor is one of them."""
    index = NameIndex()
    firsts = index.ids if first_ids is None else list(first_ids)
    rows = _signal_pairs(first_ids) | {(pk, other) for pk in firsts for other in index.alike_after(pk)}
    return _scored(rows, threshold)


@dataclass
class ReviewPage:
    pairs: list[DuplicatePair]
    first_id: int | None  # the page's donors: ids first_id to last_id (unmerged, oldest first)
    last_id: int | None
    donors: int  # how many donors the page covers
    more: bool  # donors recorded after last_id remain


def duplicate_review_page(
    *, after: int = 0, donors: int = 100, candidates: int = 300, threshold: int = LIKELY
) -> ReviewPage:
    """Finance's review list, a page at a time: the donors recorded after donor id `after`, oldest first,
    each with its likely pairs among the donors recorded after it, so each pair is on its older donor's
    page. A page takes up to `donors` donors, and stops after the donor whose pairs bring the candidates
    to `candidates`: a page of names alike by the hundred stays a page. The next page starts after `last_id`."""
    ids = list(Donor.objects.unmerged().filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[: donors + 1])
    more = len(ids) > donors
    ids = ids[:donors]
    signals: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for low, high in _signal_pairs(ids):
        signals[low].add((low, high))
    index, rows, taken = NameIndex(), set(), []
    for pk in ids:
        rows |= signals[pk] | {(pk, other) for other in index.alike_after(pk)}
        taken.append(pk)
        if len(rows) >= candidates:
            more = more or len(taken) < len(ids)
            break
    return ReviewPage(
        pairs=_scored(rows, threshold),
        first_id=taken[0] if taken else None,
        last_id=taken[-1] if taken else None,
        donors=len(taken),
        more=more,
    )


def duplicate_dismiss(*, donor_a: Donor, donor_b: Donor, by) -> DuplicateDismissal:
    """Record that two donors are not one: the pair is never offered again."""
    low, high = sorted([donor_a.pk, donor_b.pk])
    dismissal, _ = DuplicateDismissal.objects.get_or_create(
        donor_low_id=low, donor_high_id=high, defaults={"dismissed_by": by}
    )
    return dismissal
