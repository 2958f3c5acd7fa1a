"""Calibration of the false-match probability, and the operating characteristic.

python experiments/calibration.py --size full

Seeds 0 and 1 of the study's query set (clean and laptop-mic; 2 clips of each
reference track and 8 of each unseen track a length). The default preset's
null is fitted on seed 1 and the unseen tracks of even index (``--fit-seed``),
and its reliability is reported on seed 0 and the tracks of odd index. The
tables of the default rule at a threshold, the reliability diagram and the
operating characteristic (default, hash-only and dejavu on their own scores)
go to experiments/results/<size>/calibration_*.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from _common import database, load_corpus, output_dir, panels, parser, save, save_figure

from dejavu_lab.core.calibration import NullModel
from dejavu_lab.core.presets import get_preset
from dejavu_lab.studies import evaluate_queries, plots
from dejavu_lab.studies.accuracy import DEFAULT_CONDITIONS, DEFAULT_SECONDS, build_queries
from dejavu_lab.studies.calibration import (
    calibrate,
    evidence_rows,
    operating_characteristic,
    predicted,
    reliability,
)
from dejavu_lab.studies.intervals import wilson_interval

#: How each preset's own score is read from :func:`evaluate_queries` rows.
OWN_SCORE = {"hash-only": "confidence", "dejavu": "aligned_hashes"}


def fit_half(rows: pd.DataFrame) -> pd.Series:
    """Unseen tracks the null is fitted on: even index (odd ones are held out)."""
    return (rows.source != "reference") & (rows.song_index % 2 == 0)


def decision_table(rows: pd.DataFrame, null: NullModel, max_false_match: float) -> pd.DataFrame:
    """The calibrated rule at one threshold, replayed on evidence rows."""
    named = predicted(rows, null) <= max_false_match
    rows = rows.assign(
        right=named & rows.correct,
        false=named & (rows.source != "reference"),
    )
    out = []
    for (condition, seconds), group in rows.groupby(["condition", "seconds"], sort=False):
        known = group[group.source == "reference"]
        unseen = group[group.source != "reference"]
        out.append(
            {
                "condition": condition,
                "seconds": seconds,
                "correct": int(known.right.sum()),
                "total": len(known),
                "accuracy_pct": 100 * known.right.mean(),
                "false_matches": int(unseen.false.sum()),
                "unseen_total": len(unseen),
            }
        )
    return pd.DataFrame(out)


def own_score_rows(args, corpus, preset: str, seed: int, executor) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Rows of a preset that always answers, with its own score, for the characteristic."""
    djv, _ = database(args, corpus, preset)
    if preset == "hash-only":
        djv.pipeline = djv.pipeline.with_params(matcher__min_confidence=0.0, matcher__min_aligned=1)
    queries = build_queries(
        corpus,
        seconds=args.seconds,
        conditions=args.conditions,
        n_per_song=args.per_song,
        n_per_unseen=args.per_unseen if preset != "dejavu" else max(1, args.per_unseen // 4),
        seed=seed,
    )
    rows = evaluate_queries(djv, queries, progress=not args.quiet, executor=executor)
    djv.close()
    rows["score"] = rows[OWN_SCORE[preset]].astype(float)
    rows["correct"] = rows["offset_correct"]
    return rows


def figures(folder: Path, curves: pd.DataFrame, table: pd.DataFrame, chosen: float) -> None:
    fig, axes = panels(1, height_in=4.0)
    plots.reliability(table, ax=axes[0])
    save_figure(fig, folder / "calibration_reliability.png")
    lengths = sorted(curves.seconds.unique())
    fig, axes = panels(len(lengths), height_in=3.2)
    for ax, seconds in zip(axes, lengths, strict=True):
        plots.operating_characteristic(
            curves[curves.seconds == seconds], ax=ax, title=f"{seconds:g} s", marker=chosen
        )
    for ax in axes[1:]:
        ax.set_ylabel("")
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside lower center", ncols=4, frameon=False)
    save_figure(fig, folder / "calibration_operating.png")


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--conditions", nargs="+", default=list(DEFAULT_CONDITIONS))
    p.add_argument("--seconds", nargs="+", type=float, default=list(DEFAULT_SECONDS))
    p.add_argument("--per-song", type=int, default=2)
    p.add_argument("--per-unseen", type=int, default=8)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--fit-seed", type=int, default=1)
    p.add_argument("--max-false-match", type=float, default=None, help="default: the preset's")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    folder = output_dir(args)
    corpus = load_corpus(args)
    chosen = args.max_false_match or get_preset("default").verifier.max_false_match
    with ProcessPoolExecutor(args.workers) as executor:
        djv, _ = database(args, corpus, "default")
        evidence = {}
        for seed in args.seeds:
            path = folder / f"calibration_evidence_seed{seed}.csv"
            if path.exists():
                evidence[seed] = pd.read_csv(path)
                continue
            queries = build_queries(
                corpus,
                seconds=args.seconds,
                conditions=args.conditions,
                n_per_song=args.per_song,
                n_per_unseen=args.per_unseen,
                seed=seed,
            )
            rows = evidence_rows(djv, queries, progress=not args.quiet, executor=executor)
            save(rows, folder, path.stem, corpus, djv.pipeline.get_params())
            evidence[seed] = rows
        fit_rows = evidence[args.fit_seed]
        fit_rows = fit_rows[fit_half(fit_rows)]
        null = calibrate(
            fit_rows.assign(truth=None),
            note=f"{args.size} corpus, seed {args.fit_seed}, unseen tracks of even index, "
            f"{len(fit_rows)} clips ({', '.join(args.conditions)})",
        )
        (folder / "calibration_null.json").write_text(null.to_json())
        print(f"null model ({null.n_fitted} fitted numbers):\n{null.to_json()}")

        tables, reliabilities = [], []
        for seed, rows in evidence.items():
            held = rows[(rows.source != "reference") & ~fit_half(rows)]
            for condition in [*args.conditions, "all"]:
                part = held if condition == "all" else held[held.condition == condition]
                table = reliability(part, null)
                reliabilities.append(table.assign(seed=seed, condition=condition))
            tables.append(decision_table(rows, null, chosen).assign(seed=seed))
        reliability_table = pd.concat(reliabilities, ignore_index=True)
        decision = pd.concat(tables, ignore_index=True)
        params = {**djv.pipeline.get_params(), "null": json.loads(null.to_json())}
        save(reliability_table, folder, "calibration_reliability", corpus, params)
        save(decision, folder, "calibration_decision", corpus, params)
        print(reliability_table.to_string(index=False))
        print(decision.to_string(index=False))

        curves = []
        score_seed = args.seeds[0]
        rows = evidence[score_seed]
        rows = rows.assign(score=-np.log10(np.maximum(predicted(rows, null), 1e-12)))
        curves.append(operating_characteristic(rows, score="score").assign(preset="default"))
        for preset in ("hash-only", "dejavu"):
            if preset in args.presets:
                own = own_score_rows(args, corpus, preset, score_seed, executor)
                curves.append(operating_characteristic(own, score="score").assign(preset=preset))
        curve_table = pd.concat(curves, ignore_index=True)
        save(curve_table, folder, "calibration_operating", corpus, params)
        djv.close()
    low, high = wilson_interval(decision["correct"], decision["total"])
    print(f"accuracy 95 % intervals: {np.round(100 * low, 1)} - {np.round(100 * high, 1)}")
    held_out = reliability_table[reliability_table.seed != args.fit_seed]
    figures(folder, curve_table, held_out, chosen)


if __name__ == "__main__":
    main()
