"""Run every study on a corpus: make reproduce (full) / make reproduce-small.

python experiments/reproduce.py --size full
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STUDIES = (
    "accuracy.py",
    "matching_time.py",
    "storage.py",
    "sweep.py",
    "robustness.py",
    "calibration.py",
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", choices=("small", "full"), default="small")
    p.add_argument("--only", nargs="+", choices=STUDIES, default=list(STUDIES))
    args, extra = p.parse_known_args()
    for script in args.only:
        started = time.monotonic()
        print(f"\n=== {script} ({args.size}) ===", flush=True)
        subprocess.run(
            [sys.executable, str(HERE / script), "--size", args.size, *extra], check=True
        )
        print(f"=== {script}: {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
