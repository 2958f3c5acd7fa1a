"""The ceiling of any rule on the peak check's evidence and the sketch's ``z``.

python experiments/rule_shape_ceiling.py         (reads the committed sketch_check rows)

Why: ``fold_ceiling.py`` replays the default's rule (``r + 0.1 z`` against its null) at each
known clip's true offset. Could a rule of another shape on the same two statistics do better?
Any sensible rule is monotone (more evidence and a larger ``z`` never turn a match into "no
match"), so a known clip whose true-offset point ``(r, z)`` is matched or beaten in both by an
unseen clip's candidate cannot be named by it without naming that unseen clip too. Counting the
known clips no unseen candidate dominates gives, per seed and length, the most that any
monotone rule on ``(r, z)`` could name with no false match -- fitted on the very clips it is
counted on, so an upper bound, not an estimate. Two nulls: the unseen clips of the same seed
and length in both conditions (one rule for every channel), and the laptop-mic ones only (as
if a gate could tell the channel perfectly). Nothing is fitted for this table
(``rule_shape_ceiling.csv``).

The second table tries the one shape the first suggests: the laptop-mic null alone admits more
clips, so queries the channel gate reads as band-limited (bass ratio at most ``gate_db``) are
judged against a null fitted on band-limited unseen clips only (seed 1, unseen tracks of even
index, as the default's), the others by the default's rule and gate; replayed at ``3e-4`` on
every seed (``rule_shape_two_nulls.csv``; 16 numbers fitted, the null's).
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
import pandas as pd
from _common import RESULTS, command_line
from sketch_check import best_of

from dejavu_lab.core.decision.calibration import DEFAULT_SKETCH_NULL, NullModel, fit_null
from dejavu_lab.core.presets import get_preset

SEEDS = range(6)
LENGTHS = (1, 2)
LENGTHS_ALL = (1, 2, 3, 5, 10)


def undominated(points: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Which ``points`` no row of ``null`` matches or beats in every column.

    Examples
    --------
    >>> undominated(np.array([[1.0, 2.0], [3.0, 1.0]]), np.array([[2.0, 2.0]]))
    array([False,  True])
    """
    if len(null) == 0:
        return np.ones(len(points), dtype=bool)
    beaten = (null[None, :, :] >= points[:, None, :]).all(axis=2)
    return ~beaten.any(axis=1)


def scored_with_bass(seed: int) -> pd.DataFrame:
    """``sketch_check``'s best rows of a seed with each clip's bass ratio (``channel_gate``)."""
    rows = pd.read_csv(
        RESULTS / "full" / "sketch_check" / f"sketch_check_seed{seed}_best.csv.gz",
        dtype={"truth": object},
    )
    bass = pd.read_csv(RESULTS / "full" / "channel_gate" / f"channel_gate_seed{seed}.csv.gz")
    return rows.merge(bass[["query_id", "bass_db"]], on="query_id", how="left")


def two_nulls(level: float) -> tuple[pd.DataFrame, NullModel]:
    """Laptop-mic clips named right and unseen clips named, per seed and length: the default's
    rule against the same rule with a band-limited null for band-limited queries."""
    verifier = get_preset("default").verifier
    weight, gate_db, strict = (
        verifier.sketch_weight,
        verifier.full_band_db,
        verifier.full_band_min_evidence,
    )
    fit = scored_with_bass(1)
    null_rows = fit[(fit.source != "reference") & (fit.song_index % 2 == 0)]
    best = best_of(null_rows, weight, 2)
    band = best[best.bass_db <= gate_db]
    null = fit_null(band.score.to_numpy(float), band.seconds.to_numpy(float))
    rows = []
    for seed in SEEDS:
        top = best_of(scored_with_bass(seed), weight, 2)
        full_band = (top.bass_db > gate_db).to_numpy()
        passes_gate = ~full_band | (top.evidence >= strict).to_numpy()
        default_limit = top.seconds.map(lambda s: DEFAULT_SKETCH_NULL.evidence_for(level, s))
        band_limit = top.seconds.map(lambda s, n=null: n.evidence_for(level, s))
        by_default = (top.score >= default_limit).to_numpy() & passes_gate
        rules = {
            "default": by_default,
            "two nulls": np.where(full_band, by_default, top.score >= band_limit),
        }
        right = (top.right_song & top.offset_right).to_numpy()
        known = (top.source == "reference").to_numpy()
        for (rule, named), seconds in itertools.product(rules.items(), LENGTHS_ALL):
            at = (top.seconds == seconds).to_numpy()
            laptop = (top.condition == "laptop-mic").to_numpy()
            rows.append(
                {
                    "seed": seed,
                    "rule": rule,
                    "seconds": seconds,
                    "laptop_mic_right": int((named & right & known & laptop & at).sum()),
                    "unseen_named": int((named & ~known & at).sum()),
                }
            )
    return pd.DataFrame(rows), null


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    folder = RESULTS / "full" / "sketch_check"
    rows = []
    for seed in SEEDS:
        path = folder / f"sketch_check_seed{seed}_best.csv.gz"
        scored = pd.read_csv(path, dtype={"truth": object})
        for seconds in LENGTHS:
            at = scored[scored.seconds == seconds]
            known = at[(at.kind == "oracle") & (at.condition == "laptop-mic")]
            unseen = at[(at.source != "reference") & (at.kind == "candidate")]
            points = known[["evidence", "z"]].to_numpy(dtype=float)
            for null_name, null in (
                ("both conditions", unseen),
                ("laptop-mic only", unseen[unseen.condition == "laptop-mic"]),
            ):
                free = undominated(points, null[["evidence", "z"]].to_numpy(dtype=float))
                rows.append(
                    {
                        "seed": seed,
                        "seconds": seconds,
                        "null": null_name,
                        "clips": len(points),
                        "unseen_clips": null.query_id.nunique(),
                        "undominated": int(free.sum()),
                    }
                )
    table = pd.DataFrame(rows)
    table.to_csv(folder / "rule_shape_ceiling.csv", index=False)
    (folder / "rule_shape_ceiling.provenance.json").write_text(
        json.dumps({"command": command_line()}, indent=2)
    )
    print("laptop-mic clips (of 45) whose true-offset (r, z) no unseen candidate matches:")
    print(table.pivot(index="seed", columns=["null", "seconds"], values="undominated").to_string())
    level = get_preset("default").verifier.max_false_match
    replay, null = two_nulls(level)
    replay.to_csv(folder / "rule_shape_two_nulls.csv", index=False)
    print(f"band-limited null (fitted on seed 1): {null}")
    print(
        f"laptop-mic clips named right (of 45) at {level:g}; unseen clips named (of 704 a length):"
    )
    print(replay.pivot(index=["seed", "rule"], columns="seconds").to_string())


if __name__ == "__main__":
    main()
