"""The ceiling of any ranking under the default's rule: the right song at its true offset.

python experiments/fold_ceiling.py               (reads the committed sketch_check rows)

Why: a known clip can be named only if its right song, at the right offset, reaches the
threshold. ``sketch_check.py`` scored every clip of seeds 0-5 at its true offset too (the
``oracle`` rows: the default's evidence ``r`` and the sketch's ``z`` there). This replays the
default's rule on those rows, ``r + 0.1 z`` against ``DEFAULT_SKETCH_NULL`` at
``verifier__max_false_match`` (``3e-4``), without the channel gate (which only raises the bar):
how many laptop-mic clips a perfect ranking and offset search could name, per seed and length.
Nothing is fitted here. Writes ``fold_ceiling.csv`` (counts) beside the rows it reads.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd
from _common import RESULTS, command_line

from dejavu_lab.core.decision.calibration import DEFAULT_SKETCH_NULL
from dejavu_lab.core.presets import get_preset

SEEDS = range(6)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    folder = RESULTS / "full" / "sketch_check"
    verifier = get_preset("default").verifier
    level, weight = verifier.max_false_match, verifier.sketch_weight
    rows = []
    for seed in SEEDS:
        path = folder / f"sketch_check_seed{seed}_best.csv.gz"
        scored = pd.read_csv(path, dtype={"truth": object})
        oracle = scored[(scored.kind == "oracle") & (scored.condition == "laptop-mic")]
        for seconds, clips in oracle.groupby("seconds"):
            limit = DEFAULT_SKETCH_NULL.evidence_for(level, float(seconds))
            reach = clips.evidence + weight * clips.z >= limit
            rows.append(
                {
                    "seed": seed,
                    "seconds": seconds,
                    "clips": len(clips),
                    "reach_threshold": int(reach.sum()),
                    "threshold": round(limit, 4),
                }
            )
    table = pd.DataFrame(rows)
    table.to_csv(folder / "fold_ceiling.csv", index=False)
    record = {"command": command_line(), "level": level, "sketch_weight": weight}
    (folder / "fold_ceiling.provenance.json").write_text(json.dumps(record, indent=2))
    print(f"laptop-mic clips whose right song at its true offset reaches {level:g}, of 45:")
    print(table.pivot(index="seed", columns="seconds", values="reach_threshold").to_string())


if __name__ == "__main__":
    main()
