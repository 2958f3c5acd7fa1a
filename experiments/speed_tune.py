"""Variants of the ``speed`` preset's search on the study's 5 s clips (tuning aid).

The clips are those of ``speed_robust.py`` (same seeds, same draws: the plan is
restricted to the lengths asked for), each variant matched on one database.

python experiments/speed_tune.py --size full --seed 1 --seconds 5 \
    --variants base fan_seconds=5.0 keep=4
"""

from __future__ import annotations

import time

import pandas as pd
import speed_robust
from _common import database, load_corpus, parser

from dejavu_lab.core.presets import get_preset


def variant(spec: str) -> dict:  # type: ignore[type-arg]
    """``"name=value,name=value"`` as ``speed__`` parameters (``"base"``: none)."""
    if spec == "base":
        return {}
    out: dict = {}  # type: ignore[type-arg]
    for item in spec.split(","):
        name, value = item.split("=")
        out[f"speed__{name}"] = None if value == "None" else type_of(value)
    return out


def type_of(value: str) -> float | int | bool:
    """The number or flag ``value`` spells."""
    if value in ("True", "False"):
        return value == "True"
    return float(value) if "." in value else int(value)


def main() -> None:
    p = parser(__doc__ or "", presets=False)
    p.add_argument("--seconds", type=float, nargs="+", default=[5.0])
    p.add_argument("--conditions", nargs="+", default=["varispeed", "pitch"])
    p.add_argument("--per-unseen", type=int, default=2)
    p.add_argument(
        "--per-song",
        type=int,
        default=1,
        help="clips per track (the first is the study's; more: a larger set of the same seed)",
    )
    p.add_argument("--variants", nargs="+", default=["base"])
    args = p.parse_args()
    speed_robust.PLAN = {
        c: tuple(s for s in speed_robust.PLAN[c] if s in args.seconds) for c in args.conditions
    }
    corpus = load_corpus(args)
    clips = speed_robust.build(corpus, args.seed, args.per_song, args.per_unseen, args.conditions)
    djv, _ = database(args, corpus, "default")
    rows = []
    for spec in args.variants:
        djv.pipeline = get_preset("speed").with_params(**variant(spec))
        started = time.perf_counter()
        found = speed_robust.evaluate(djv, clips, corpus.sample_rate, False)
        found.insert(0, "preset", "speed")
        table = speed_robust.summarize(found)
        for _, r in table.iterrows():
            rows.append(
                {
                    "variant": spec,
                    "condition": r.condition,
                    "seconds": r.seconds,
                    "correct": r.correct,
                    "false": r.false_matches,
                    "ms": r.median_match_ms,
                }
            )
        print(spec, f"{time.perf_counter() - started:.0f} s", flush=True)
        print(pd.DataFrame(rows[-len(table) :]).to_string(index=False), flush=True)
        wrong = found[(found.source == "reference") & ~found.correct] if "source" in found else None
        if wrong is not None:
            print(wrong[["condition", "seconds", "truth", "change"]].to_string(index=False))
    djv.close()


if __name__ == "__main__":
    main()
