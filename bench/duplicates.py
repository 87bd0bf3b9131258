"""Duplicate review benchmark: prints one JSON line per figure ({"name", "value", "unit"}).

    python bench/duplicates.py                      # 10,000 donors named alike, baseline on 2,000
    BENCH_DONORS=20000 python bench/duplicates.py

In a database of its own (BENCH_DATABASE_URL, default fundtrace_bench_duplicates on the local
PostgreSQL), records BENCH_DONORS donors named "Supporter 00001", "Supporter 00002", ... in one
country and of one kind: names that share most of their trigrams, the worst case of the name
search (each is alike dozens of others). Times GET /admin/donors/donor/duplicates/ signed in as
Finance: its first page and a page from the middle donor on (median and p95 of BENCH_REPEAT requests each),
with the likely pairs each page lists.

Baseline, in the same run: the earlier search, which compared the trigram sets of every two
donors sharing a trigram (the whole list at once), on BENCH_BASELINE_DONORS of the same donors
(it takes minutes on 10,000); and the whole list by the current code on as many.
"""

import os
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import POSTGRES, database_ensure, emit, p95, timed  # noqa: E402

DONORS = int(os.environ.get("BENCH_DONORS", "10000"))
BASELINE_DONORS = int(os.environ.get("BENCH_BASELINE_DONORS", "2000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
os.environ.setdefault("DEBUG", "1")
URL = os.environ.get("BENCH_DATABASE_URL", f"{POSTGRES}/fundtrace_bench_duplicates")
database_ensure(URL)
os.environ["DATABASE_URL"] = URL

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from donors.duplicates import SEARCH_FROM, duplicate_pairs  # noqa: E402
from donors.models import Donor  # noqa: E402
from donors.names import trigram_overlap, trigrams  # noqa: E402


def donors_ready(count: int) -> None:
    call_command("migrate", verbosity=0)
    if Donor.objects.filter(ref__startswith="SUP-").count() != count or Donor.objects.count() != count:
        with transaction.atomic():
            Donor.objects.filter(merged_into__isnull=False).update(merged_into=None)
            Donor.objects.all().delete()
            Donor.objects.bulk_create(
                Donor(ref=f"SUP-{n:05d}", name=f"Supporter {n:05d}", kind="individual", country="GB",
                      preferred_currency="GBP")
                for n in range(1, count + 1)
            )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE donors_donor")
    emit("donors", Donor.objects.count(), "rows")


def earlier_alike_pairs(ids) -> set[tuple[int, int]]:
    """The earlier search: every two donors sharing a trigram, their trigram sets compared."""
    grams = {pk: trigrams(key) for pk, key in Donor.objects.filter(pk__in=ids).values_list("pk", "name_key")}
    holders = defaultdict(list)
    for pk, found in grams.items():
        for gram in found:
            holders[gram].append(pk)
    pairs = set()
    for pk, found in grams.items():
        others = {other for gram in found for other in holders[gram] if other > pk}
        pairs.update((pk, o) for o in others if trigram_overlap(found, grams[o]) >= SEARCH_FROM)
    return pairs


def finance_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(username="bench-finance", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name="Finance"))
    client = Client()
    client.force_login(user)
    return client


def main():
    emit("load_average_1m", os.getloadavg()[0], "load")
    donors_ready(DONORS)
    client = finance_client()
    middle = Donor.objects.order_by("pk").values_list("pk", flat=True)[DONORS // 2]
    for label, query in (("first", ""), ("middle", f"?after={middle}")):
        url = f"/admin/donors/donor/duplicates/{query}"
        response = client.get(url)  # warm up
        assert response.status_code == 200
        listed = re.search(r"<caption>(\d+) likely pair", response.content.decode())
        emit(f"review_page_{label}_pairs", int(listed.group(1)) if listed else 0, "pairs")
        samples = timed(lambda url=url: client.get(url), REPEAT)
        emit(f"review_page_{label}_median_{DONORS}_donors", round(statistics.median(samples), 1), "ms")
        emit(f"review_page_{label}_p95_{DONORS}_donors", round(p95(samples), 1), "ms")

    ids = list(Donor.objects.order_by("pk").values_list("pk", flat=True)[:BASELINE_DONORS])
    with transaction.atomic():  # the whole list on the first BASELINE_DONORS donors: the others set aside
        Donor.objects.exclude(pk__in=ids).update(name_key="", external_ref="")
        t = time.perf_counter()
        whole = duplicate_pairs()
        emit(f"review_whole_list_{BASELINE_DONORS}_donors", round(time.perf_counter() - t, 2), "s")
        t = time.perf_counter()
        earlier = earlier_alike_pairs(ids)
        emit(f"baseline_earlier_search_{BASELINE_DONORS}_donors", round(time.perf_counter() - t, 2), "s")
        emit(f"review_whole_list_pairs_{BASELINE_DONORS}_donors", len(whole), "pairs")
        emit(f"baseline_alike_pairs_{BASELINE_DONORS}_donors", len(earlier), "pairs")
        transaction.set_rollback(True)
    emit("load_average_1m_end", os.getloadavg()[0], "load")


if __name__ == "__main__":
    main()
