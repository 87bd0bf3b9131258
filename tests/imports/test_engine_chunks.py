"""The engine reads a file a chunk at a time, and keeps a chunk's rows where the garbage collector
does not look: a million-row file would otherwise set off a full collection every few chunks."""

import gc

from transfers.engine import import_run
from transfers.files import open_table
from transfers.kinds_donors import DonationImporter

from .conftest import HEADER, write_file


def test_a_chunk_s_rows_reach_load_as_values_the_garbage_collector_does_not_track(ledger, tmp_path):
    tracked = []

    class Watched(DonationImporter):
        chunk_size = 2

        def load(self, rows):
            tracked.extend(gc.is_tracked(r) for r in rows)
            return super().load(rows)

    content = HEADER + "".join(f"W-{i},DON-0001,2025-03-0{i},{i}0.00,GBP,,,,note {i}\n" for i in range(1, 6))
    path = write_file(tmp_path, "w.csv", content)
    chunks = []
    with open(path, "rb") as stream:
        outcome = import_run(Watched(post=True, file_name="w.csv"), open_table(stream, "w.csv"), progress=chunks.append)
    assert outcome.ok and (outcome.rows, outcome.new) == (5, 5)
    assert len(chunks) == 3
    assert tracked == [False] * 5
