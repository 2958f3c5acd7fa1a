"""Calibration of the false-match probability, and the operating characteristic.

python experiments/calibration.py --size full

Seeds 0 and 1 of the study's query set (clean and laptop-mic; 1 clip of each
reference track and 2 of each unseen track a length and condition, as the
committed results were run; the dejavu preset's curve: 1 of each unseen track). The default preset's
null is fitted on seed 1 and the unseen tracks of even index (``--fit-seed``),
and its reliability is reported on seed 0 and the tracks of odd index. The
tables of the default rule at a threshold (the null's threshold with and without
the channel gate, which reads each clip's bass: ``calibration_bass_seed<S>.csv``),
the reliability diagram and the operating characteristic (default, hash-only and
dejavu on their own scores) go to experiments/results/<size>/calibration_*.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from _common import output_dir, panels, parser, save, save_figure
from tqdm.auto import tqdm

from dejavu_lab import Dejavu
from dejavu_lab.core.audio import load_audio, resample
from dejavu_lab.core.decision.calibration import NullModel
from dejavu_lab.core.presets import get_preset
from dejavu_lab.core.verify import Verifier
from dejavu_lab.studies import CorpusAudio, evaluate_queries, plots
from dejavu_lab.studies.accuracy import DEFAULT_CONDITIONS, OFFSET_TOLERANCE_S
from dejavu_lab.studies.calibration import (
    bass_rows,
    calibrate,
    evidence_rows,
    named,
    null_pipeline,
    operating_characteristic,
    predicted,
    reliability,
)
from dejavu_lab.studies.corpus import default_corpus_dir, manifest_hash, tracks
from dejavu_lab.studies.corpus_audio import STUDY_RATE, holds_songs
from dejavu_lab.studies.intervals import wilson_interval
from dejavu_lab.studies.queries import QuerySetSpec, iter_queries

#: Thresholds tried on the fit seed (the default's ``max_false_match`` was chosen from them).
THRESHOLDS = (1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3, 5e-3)

#: How each preset's own score is read from :func:`evaluate_queries` rows.
OWN_SCORE = {"dejavu": "aligned_hashes"}


def query_chunks(args, seed: int, per_unseen: int, size: int = 128):  # type: ignore[no-untyped-def]
    """The study's query set (as :func:`build_queries` makes it), in chunks, decoding one
    track at a time: the full corpus's clips at 44.1 kHz would not fit in memory at once."""
    corpus_dir = default_corpus_dir(args.size)

    def songs(set_name: str, named: bool):  # type: ignore[no-untyped-def]
        for track in tracks(corpus_dir, set=set_name):
            samples = load_audio(track.path, sample_rate=STUDY_RATE).samples
            yield (track.name if named else None, samples, STUDY_RATE)

    common = {"durations_s": tuple(args.seconds), "conditions": tuple(args.conditions)}
    streams = [
        iter_queries(
            songs("reference", True), QuerySetSpec(**common, n_per_song=args.per_song, seed=seed)
        ),
        iter_queries(
            songs("unseen", False),
            QuerySetSpec(**common, n_per_song=per_unseen, seed=seed, source="unseen"),
        ),
    ]
    chunk: list = []
    for stream in streams:
        for query in stream:
            chunk.append(query)
            if len(chunk) == size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def score_clips(args, djv: Dejavu, clip_rows) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Rows of every clip of ``args.seed`` (:func:`query_chunks`), each clip resampled to
    the pipeline's rate and scored by ``clip_rows(probe, query, songs)`` against a copy of
    ``djv`` that answers nothing (:func:`null_pipeline`); at most ``args.limit`` clips.

    Adds ``offset_right`` (the answer's offset within the accuracy study's tolerance of
    the clip's start) and ``seed``.
    """
    probe = Dejavu(
        pipeline=null_pipeline(djv.pipeline),
        store=djv.db,
        null_model=djv.null_model,
        sketch_null=djv.sketch_null,
    )
    rate = probe.pipeline.spectrogram.sample_rate
    songs = djv.db.stats().num_songs
    rows: list[dict] = []
    cpu, wall = time.process_time(), time.perf_counter()
    clips = 0
    with tqdm(desc="clips", unit="clip", disable=args.quiet) as bar:
        for chunk in query_chunks(args, args.seed, args.per_unseen):
            for query in chunk:
                if args.limit and clips >= args.limit:
                    continue  # the rest of the chunk; the next is not made
                query = dataclasses.replace(
                    query, clip=resample(query.clip, query.sample_rate, rate), sample_rate=rate
                )
                rows += clip_rows(probe, query, songs)
                clips += 1
                bar.update()
            if args.limit and clips >= args.limit:
                break
    print(
        f"{clips} clips: {time.process_time() - cpu:.0f} s CPU, "
        f"{time.perf_counter() - wall:.0f} s wall",
        flush=True,
    )
    out = pd.DataFrame(rows)
    out["offset_right"] = (out.offset_s - out.start_s).abs() <= OFFSET_TOLERANCE_S
    out["seed"] = args.seed
    return out


def with_bass(
    args: argparse.Namespace,
    folder: Path,
    seed: int,
    rows: pd.DataFrame,
    djv: Dejavu,
    corpus: CorpusAudio,
) -> pd.DataFrame:
    """A seed's evidence rows with each clip's bass ratio (``calibration_bass_seed<S>.csv``,
    measured once from the clips: the evidence rows need not be scored again)."""
    path = folder / f"calibration_bass_seed{seed}.csv"
    if path.exists():
        bass = pd.read_csv(path)
    else:
        rate = djv.pipeline.spectrogram.sample_rate
        bass = pd.concat(
            [bass_rows(chunk, rate) for chunk in query_chunks(args, seed, args.per_unseen)],
            ignore_index=True,
        )
        save(bass, folder, path.stem, corpus, {"sample_rate": rate, "seed": seed})
    out = rows.drop(columns="bass_db", errors="ignore").merge(
        bass[["query_id", "bass_db"]], on="query_id", how="left", validate="one_to_one"
    )
    if len(bass) != len(rows) or out.bass_db.isna().sum() > (bass.bass_db.isna().sum()):
        raise SystemExit(
            f"{path}: {len(bass)} clips' bass for {len(rows)} evidence rows; "
            "delete it to measure again"
        )
    return out


def study_database(args, manifest: str, preset: str) -> Dejavu:  # type: ignore[no-untyped-def]
    """The preset's database of the reference tracks, fingerprinted from the files once
    (named as :func:`cached_database` names it, so the other studies share it)."""
    paths = [track.path for track in tracks(default_corpus_dir(args.size), set="reference")]
    path = output_dir(args) / "db" / f"{preset}-{manifest[:10]}.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        djv = Dejavu({"database": str(path)}, pipeline=preset)
        if holds_songs(djv, len(paths)):
            return djv
        djv.close()
        path.unlink()
    djv = Dejavu({"database": str(path)}, pipeline=preset)
    djv.fingerprint_directory(paths, nprocesses=args.workers, progress=not args.quiet)
    return djv


def fit_half(rows: pd.DataFrame) -> pd.Series:
    """Unseen tracks the null is fitted on: even index (odd ones are held out)."""
    return (rows.source != "reference") & (rows.song_index % 2 == 0)


def rules(verifier: Verifier) -> dict[str, Verifier]:
    """The default's rule, and the same without the channel gate, by name."""
    return {
        "null + channel gate": verifier,
        "null only": dataclasses.replace(verifier, full_band_db=None),
    }


def decision_table(
    rows: pd.DataFrame, null: NullModel, verifier: Verifier, max_false_match: float
) -> pd.DataFrame:
    """The calibrated rule at one threshold, replayed on evidence rows (with ``bass_db``)."""
    answered = named(rows, null, verifier, max_false_match)
    rows = rows.assign(
        right=answered & rows.correct,
        false=answered & (rows.source != "reference"),
        refused=verifier.refuses(rows.evidence.to_numpy(float), rows.bass_db)
        & (predicted(rows, null) <= max_false_match),
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
                "known_refused_by_gate": int(known.refused.sum()),
                "unseen_refused_by_gate": int(unseen.refused.sum()),
            }
        )
    return pd.DataFrame(out)


def own_score_rows(args, corpus, preset: str, seed: int, executor) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Rows of a preset that always answers, with its own score, for the characteristic."""
    djv = study_database(args, corpus.manifest_hash, preset)
    per_unseen = args.per_unseen if preset != "dejavu" else max(1, args.per_unseen // 4)
    rows = pd.concat(
        [
            evaluate_queries(djv, chunk, progress=False, executor=executor)
            for chunk in query_chunks(args, seed, per_unseen)
        ],
        ignore_index=True,
    )
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
            curves[curves.seconds == seconds],
            ax=ax,
            title=f"{seconds:g} s",
            marker=chosen,
            dashed=("default, no gate",),
        )
    for ax in axes[1:]:
        ax.set_ylabel("")
    for ax in axes:
        ax.set_xlabel("")
    fig.supxlabel("false matches, unseen clips (%), clean and laptop-mic pooled")
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside upper center", ncols=5, frameon=False)
    save_figure(fig, folder / "calibration_operating.png")


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--conditions", nargs="+", default=list(DEFAULT_CONDITIONS))
    p.add_argument("--seconds", nargs="+", type=float, default=[1.0, 2.0, 3.0, 5.0, 10.0])
    p.add_argument("--per-song", type=int, default=1)
    p.add_argument("--per-unseen", type=int, default=2)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--fit-seed", type=int, default=1)
    p.add_argument("--max-false-match", type=float, default=None, help="default: the preset's")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--evidence-only", action="store_true", help="score the seeds' clips and stop")
    args = p.parse_args()
    folder = output_dir(args)
    corpus_dir = default_corpus_dir(args.size)
    if not (corpus_dir / "manifest.csv").exists():
        raise SystemExit(f"no corpus at {corpus_dir}: run `make corpus`")
    # Only the identity of the corpus here: its tracks are decoded one at a time.
    corpus = CorpusAudio({}, {}, STUDY_RATE, manifest_hash=manifest_hash(corpus_dir))
    chosen = args.max_false_match or get_preset("default").verifier.max_false_match
    with ProcessPoolExecutor(args.workers) as executor:
        djv = study_database(args, corpus.manifest_hash, "default")
        evidence = {}
        for seed in args.seeds:
            path = folder / f"calibration_evidence_seed{seed}.csv"
            if path.exists():
                evidence[seed] = pd.read_csv(path)
                continue
            parts = []
            for chunk in query_chunks(args, seed, args.per_unseen):
                parts.append(evidence_rows(djv, chunk, progress=False, executor=executor))
                print(f"seed {seed}: {sum(map(len, parts))} clips scored", flush=True)
            rows = pd.concat(parts, ignore_index=True)
            save(rows, folder, path.stem, corpus, djv.pipeline.get_params())
            evidence[seed] = rows
        for seed, rows in evidence.items():
            evidence[seed] = with_bass(args, folder, seed, rows, djv, corpus)
        if args.evidence_only:
            return
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
            for rule, verifier in rules(djv.pipeline.verifier).items():
                table = decision_table(rows, null, verifier, chosen)
                tables.append(table.assign(seed=seed, rule=rule))
        grid = pd.concat(
            [
                decision_table(rows, null, verifier, alpha).assign(
                    seed=seed, max_false_match=alpha, rule=rule
                )
                for seed, rows in evidence.items()
                for alpha in THRESHOLDS
                for rule, verifier in rules(djv.pipeline.verifier).items()
            ],
            ignore_index=True,
        )
        summary = grid.groupby(["rule", "max_false_match", "seed", "condition"]).agg(
            false_matches=("false_matches", "sum"), unseen_total=("unseen_total", "sum")
        )
        summary["false_match_pct"] = 100 * summary.false_matches / summary.unseen_total
        print(summary.to_string())
        reliability_table = pd.concat(reliabilities, ignore_index=True)
        decision = pd.concat(tables, ignore_index=True)
        params = {**djv.pipeline.get_params(), "null": json.loads(null.to_json())}
        save(reliability_table, folder, "calibration_reliability", corpus, params)
        save(decision, folder, "calibration_decision", corpus, params)
        save(grid, folder, "calibration_thresholds", corpus, params)
        print(reliability_table.to_string(index=False))
        print(decision.to_string(index=False))

        curves = []
        score_seed = args.seeds[0]
        rows = evidence[score_seed]
        rows = rows.assign(score=-np.log10(np.maximum(predicted(rows, null), 1e-12)))
        # The gate refuses whatever the threshold: its refusals never count.
        refused = djv.pipeline.verifier.refuses(rows.evidence.to_numpy(float), rows.bass_db)
        gated = rows.assign(score=np.where(refused, 0.0, rows.score))
        curves.append(operating_characteristic(gated, score="score").assign(preset="default"))
        curves.append(
            operating_characteristic(rows, score="score").assign(preset="default, no gate")
        )
        # hash-only answers with the hash vote's best candidate: scored in the same run.
        hashes = rows.assign(score=rows.hash_confidence, correct=rows.hash_correct)
        curves.append(operating_characteristic(hashes, score="score").assign(preset="hash-only"))
        if "dejavu" in args.presets:
            own = own_score_rows(args, corpus, "dejavu", score_seed, executor)
            own = own[own.seconds.isin(rows.seconds.unique())]  # the evidence's lengths only
            curves.append(operating_characteristic(own, score="score").assign(preset="dejavu"))
        curve_table = pd.concat(curves, ignore_index=True)
        save(curve_table, folder, "calibration_operating", corpus, params)
        djv.close()
    low, high = wilson_interval(decision["correct"], decision["total"])
    print(f"accuracy 95 % intervals: {np.round(100 * low, 1)} - {np.round(100 * high, 1)}")
    held_out = reliability_table[reliability_table.seed != args.fit_seed]
    figures(folder, curve_table, held_out, chosen)


if __name__ == "__main__":
    main()
