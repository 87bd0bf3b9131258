"""The rate limit's shared cache: a table in the database whose increment loses no hit between processes."""

import threading

import pytest
from django.core.cache import caches
from django.db import connection, connections

from backoffice.cache import DatabaseCache


@pytest.fixture
def cache():
    cache = caches["ratelimit"]
    assert isinstance(cache, DatabaseCache)
    return cache


def expires(cache, key):
    with connection.cursor() as cursor:
        cursor.execute("SELECT expires FROM backoffice_cache WHERE cache_key = %s", [cache.make_key(key)])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_an_increment_adds_and_keeps_the_expiry(cache):
    assert cache.add("hits", 1, 3600)
    before = expires(cache, "hits")
    assert cache.incr("hits") == 2
    assert cache.incr("hits", 5) == 7
    assert cache.get("hits") == 7
    assert expires(cache, "hits") == before


@pytest.mark.django_db
def test_a_missing_or_expired_key_is_not_incremented(cache):
    # django-ratelimit counts a failed increment as over the limit, rather than as a first hit.
    with pytest.raises(ValueError, match="not found"):
        cache.incr("never-added")
    cache.add("gone", 1, -1)
    with pytest.raises(ValueError, match="not found"):
        cache.incr("gone")


@pytest.mark.django_db(transaction=True)
def test_increments_from_many_connections_at_once_are_all_counted(cache):
    key, threads, each = "concurrent-hits", 8, 25
    cache.delete(key)
    assert cache.add(key, 0, 600)
    start = threading.Barrier(threads)
    errors = []

    def hit():
        try:
            start.wait()
            for _ in range(each):
                cache.incr(key)
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=hit) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    try:
        assert errors == []
        assert cache.get(key) == threads * each
    finally:
        cache.delete(key)
