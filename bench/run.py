"""Run every benchmark in bench/ and print its JSON lines (one figure each).

Each benchmark is a script `bench/<name>.py` that prints JSON lines of the form
{"name": ..., "value": ..., "unit": ...}, with its baseline measured in the same run. They run
one after another in fresh processes so that memory figures are their own.

By default they measure what the issues ask for, on the local PostgreSQL server
(BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432) in databases of their own, created
when missing and never the configured DATABASE_URL: imports of 100,000 and 1,000,000 donation
rows, and of 100,000 expense rows; reports and the dashboard on 10,000 donors and 1,000,000 donations (seeded once, then
reused), the dashboard also on the same donors with 100,000 donations; delivery of 1,000
donors' summaries on 2 worker processes with Redis; the duplicate review list on 10,000 donors
named alike; the financial report on one agreement's ledger of 100,000 expenses. Any variable already set in the
environment wins, e.g. `BENCH_DONORS=200 make bench`.
"""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench._common import POSTGRES, database_ensure  # noqa: E402

LEDGER_1M = {"BENCH_DATABASE_URL": f"{POSTGRES}/fundtrace_bench_1m", "BENCH_DONORS": "10000",
             "BENCH_DONATIONS": "1000000"}  # fmt: skip
DEFAULTS = {
    "imports.py": {"BENCH_DATABASE_URL": f"{POSTGRES}/fundtrace_bench_imports"},
    "expense_imports.py": {"BENCH_DATABASE_URL": f"{POSTGRES}/fundtrace_bench_expense_imports"},
    "reports.py": LEDGER_1M,
    "dashboard.py": {
        **LEDGER_1M,
        "BENCH_SMALL_DATABASE_URL": f"{POSTGRES}/fundtrace_bench_100k",
        "BENCH_SMALL_DONATIONS": "100000",
    },
    "delivery.py": {"BENCH_DATABASE_URL": f"{POSTGRES}/fundtrace_bench_delivery", "BENCH_DONORS": "1000"},
    "duplicates.py": {"BENCH_DATABASE_URL": f"{POSTGRES}/fundtrace_bench_duplicates", "BENCH_DONORS": "10000"},
    "financial.py": {"BENCH_DATABASE_URL": f"{POSTGRES}/fundtrace_bench_expenses", "BENCH_EXPENSES": "100000"},
}


def main() -> int:
    failed = 0
    for script in sorted(HERE.glob("*.py")):
        if script.name in {"run.py", "__init__.py"} or script.name.startswith("_"):
            continue
        env = {**DEFAULTS.get(script.name, {}), **os.environ}
        for url in ("BENCH_DATABASE_URL", "BENCH_SMALL_DATABASE_URL"):
            if url in env:
                database_ensure(env[url])
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, env=env, check=False)  # noqa: S603
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
