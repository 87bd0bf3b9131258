"""Run every benchmark in bench/ and print its JSON lines (one figure each).

Each benchmark is a script `bench/<name>.py` that prints JSON lines of the form
{"bench": ..., "name": ..., "value": ..., "unit": ...}, with its baseline measured in the
same run. They run one after another in fresh processes so that memory figures are their own.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    for script in sorted(HERE.glob("*.py")):
        if script.name in {"run.py", "__init__.py"} or script.name.startswith("_"):
            continue
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)  # noqa: S603
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
