"""Probing the stored song's peaks in the query's spectrogram: a stronger check for short clips?

python experiments/peak_probe.py --size full --seed 1            (scores, fits, tables)
python experiments/peak_probe.py --size full --seed 1 --from-csv (the tables again)
python experiments/peak_probe.py --size full --seed 0 --thresholds-from FIT_JSON
    (held out, not refitted; FIT_JSON: experiments/results/full/peak_probe_thresholds_seed1.json)

What it measures, on the calibration study's clips of one query seed (1 clip of each
reference track and 2 of each unseen track a length and condition, as
``experiments/calibration.py`` makes them; 1 and 2 s, clean and laptop-mic by default), on
the default preset's database of the 45 reference tracks:

- **the peak check's evidence** ``r`` (the default's statistic): of the best of the hash
  vote's candidates (every candidate checked, none accepted), and of the right song at the
  true offset (an oracle offset), as ``experiments/calibration_diagnosis.py`` computes it;
- **the probe's** ``z`` (``dejavu_lab.core.probe``): at each stored peak under the query,
  the contrast of the query's log spectrogram (:func:`contrast_map`: a neighbourhood
  maximum minus a local level, optionally standardised per bin), averaged over the stored
  peaks and standardised against the same score at the background offsets within 4 s; for
  the hash vote's 10 best candidates at their offsets (+-2 frames) and for the right song at
  the true offset (+-2 frames). The contrasts scored are :data:`VARIANTS`;
- **folds** ``r + w z`` of the two (:data:`FOLDS`).

The tables (``peak_probe_seed<S>[_replayed].txt`` and ``_table.csv``), per statistic,
length and condition, under two rules for the threshold (:data:`RULES`, one number a
length, fitted on the fit seed's unseen clips): just above the largest best-candidate score
of the unseen clips (``0 unseen``), or the score at ``1e-3`` under a null fitted as the
default's on the unseen tracks of even index (``1e-3 null``); how many of the 45 known clips
reach it with the right song at the true offset (``oracle_above``: the ceiling of any
ranking) and as the best candidate at the right offset (``ranked_right_above``: what a
recogniser ranking by the statistic would name), and how many unseen clips reach it
(``unseen_above``). The header gives the default's own rule (its null at ``1e-3``) on the
same clips. Every (clip, candidate) row the tables use goes to ``peak_probe_seed<S>.csv.gz``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import at_true_offset, clip_scoring_parser, output_dir, save, write_report
from calibration import score_clips, study_database

from dejavu_lab import Dejavu
from dejavu_lab.core.decision.calibration import fit_null, peak_evidence
from dejavu_lab.core.invariant import landmarks_only
from dejavu_lab.core.presets import get_preset
from dejavu_lab.core.probe import PEAKNESS, contrast_map, probe_check
from dejavu_lab.core.verify import PeakSet, peaks_from_fingerprints
from dejavu_lab.studies import CorpusAudio
from dejavu_lab.studies.corpus import default_corpus_dir, manifest_hash
from dejavu_lab.studies.corpus_audio import STUDY_RATE

#: Contrast variants scored: keyword arguments of :func:`contrast_map`.
VARIANTS: dict[str, dict[str, Any]] = {
    "probe t1 f1 l8": {"time_reach": 1, "freq_reach": 1, "level_bins": 8},
    "probe t1 f1 l16": {"time_reach": 1, "freq_reach": 1, "level_bins": 16},
    "probe t0 f0 l8": {"time_reach": 0, "freq_reach": 0, "level_bins": 8},
    "probe t1 f0 l8": {"time_reach": 1, "freq_reach": 0, "level_bins": 8},
    "probe t2 f1 l8": {"time_reach": 2, "freq_reach": 1, "level_bins": 8},
    "probe t0 f0 l4": {"time_reach": 0, "freq_reach": 0, "level_bins": 4},
    "probe t0 f0 l16": {"time_reach": 0, "freq_reach": 0, "level_bins": 16},
    "probe t0 f1 l8": {"time_reach": 0, "freq_reach": 1, "level_bins": 8},
    "probe t0 f0 l8 rows": {
        "time_reach": 0,
        "freq_reach": 0,
        "level_bins": 8,
        "normalise_rows": True,
    },
    "probe t0 f0 l4 rows": {
        "time_reach": 0,
        "freq_reach": 0,
        "level_bins": 4,
        "normalise_rows": True,
    },
    "probe t1 f1 l8 rows": {
        "time_reach": 1,
        "freq_reach": 1,
        "level_bins": 8,
        "normalise_rows": True,
    },
    "peakness t0 f0 n5 rows": PEAKNESS,
    "onset t0 f0 b5": {"time_reach": 0, "freq_reach": 0, "level": "bin-mean", "level_frames": 5},
    "peakness t0 f0 n5": {
        "time_reach": 0,
        "freq_reach": 0,
        "level": "neighbourhood-max",
        "level_bins": 5,
        "level_frames": 5,
    },
    "peakness t1 f1 n5": {
        "time_reach": 1,
        "freq_reach": 1,
        "level": "neighbourhood-max",
        "level_bins": 5,
        "level_frames": 5,
    },
}

#: Candidates of the hash vote checked, as the default does.
CANDIDATES = 10

#: Offsets tried either side of a candidate's (frames), as the default's verifier.
SEARCH_FRAMES = 2


def clip_rows(djv: Dejavu, query: Any, songs: int) -> list[dict[str, Any]]:
    """One row per (clip, candidate): the current evidence and the probe's ``z``; plus an
    ``oracle`` row for a known clip (the right song at the true offset)."""
    pipeline = djv.pipeline
    frame_s = pipeline.spectrogram.frame_seconds
    found = djv.match_samples(query.clip, query.sample_rate, top_k=songs)
    spectrogram = pipeline.spectrogram(query.clip)
    maps = {
        name: contrast_map(spectrogram.values_db, **kwargs) for name, kwargs in VARIANTS.items()
    }
    query_frames = spectrogram.n_frames
    background = pipeline.verifier.background_frames(frame_s)
    reach_back = pipeline.hasher.max_dt

    def stored(song_id: int, centre: int) -> PeakSet:
        first = centre - background - SEARCH_FRAMES
        stop = centre + background + SEARCH_FRAMES + query_frames + 1
        return peaks_from_fingerprints(
            landmarks_only(djv.db.song_fingerprints(song_id, first - reach_back, stop))
        )

    def probes(song_id: int, centre: int) -> dict[str, Any]:
        peaks = stored(song_id, centre)
        out: dict[str, Any] = {}
        for name, contrast in maps.items():
            check = probe_check(
                contrast,
                peaks,
                centre,
                first_bin=spectrogram.first_bin,
                search_frames=SEARCH_FRAMES,
                background_frames=background,
            )
            out[name] = check.z
            if name == next(iter(VARIANTS)):
                out["probe_offset_s"] = check.offset_frames * frame_s
                out["probe_peaks"] = check.reference_peaks
        return out

    common = query.describe()
    rows = []
    for rank, candidate in enumerate(found.candidates):
        checked = rank < CANDIDATES
        row = {
            **common,
            "kind": "candidate",
            "rank": rank + 1,
            "song": candidate["song_name"],
            "offset_s": candidate["offset_seconds"],
            "evidence": candidate["evidence"] or 0.0,
            "right_song": candidate["song_name"] == query.song_name,
        }
        if checked:
            row.update(probes(candidate["song_id"], round(candidate["offset_seconds"] / frame_s)))
        rows.append(row)
    if query.song_name is not None:
        mine = next(c for c in found.candidates if c["song_name"] == query.song_name)
        oracle = at_true_offset(mine, query.start_s / frame_s)
        _, query_peaks = pipeline.analyse_query(query.clip)
        check = djv._verify([oracle], query_peaks, pipeline.frames_for(query.duration_s))[0]
        rows.append(
            {
                **common,
                "kind": "oracle",
                "rank": 0,
                "song": query.song_name,
                "offset_s": query.start_s,
                "evidence": peak_evidence(
                    check.z,
                    check.frame_z,
                    check.matched,
                    check.reference_peaks,
                    float(mine["confidence"]),
                    djv.evidence_scales(),
                ),
                "right_song": True,
                **probes(mine["song_id"], round(query.start_s / frame_s)),
            }
        )
    return rows


def score(args: argparse.Namespace, djv: Dejavu) -> pd.DataFrame:
    """Every clip of the seed scored (see the module doc)."""
    out = score_clips(args, djv, clip_rows)
    return out


#: Folds of the default's evidence with a probe: ``r + weight * z`` (variant, weights).
FOLDS: dict[str, tuple[float, ...]] = {
    "probe t0 f0 l8 rows": (0.1, 0.2, 0.3, 0.5, 1.0),
    "peakness t0 f0 n5 rows": (0.1, 0.2, 0.3, 0.5, 1.0),
}

FOLDED = tuple(f"r + {w:g} {variant}" for variant, weights in FOLDS.items() for w in weights)

STATISTICS = ("evidence", *VARIANTS, *FOLDED)


def compact(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows the tables need: the oracle and checked candidates of each clip, and of the
    unchecked ones (hash evidence only) the one of largest evidence."""
    unchecked = rows[(rows.kind == "candidate") & (rows["rank"] > CANDIDATES)]
    top = unchecked.loc[unchecked.groupby("query_id").evidence.idxmax()]
    kept = rows[(rows.kind == "oracle") | (rows["rank"] <= CANDIDATES)]
    return pd.concat([kept, top]).sort_index()


def with_folds(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with a column per fold (NaN where the probe was not run: ranks beyond 10)."""
    return rows.assign(
        **{
            f"r + {w:g} {variant}": rows.evidence + w * rows[variant]
            for variant, weights in FOLDS.items()
            for w in weights
        }
    )


#: How a statistic's threshold is set on the fit seed's unseen clips (one number a length).
RULES = {
    "0 unseen": "just above the largest best-candidate score of the seed's unseen clips",
    "1e-3 null": "the score at a false-match probability of 1e-3 under a null fitted as the "
    "default's (fit_null: quantiles and a pooled exponential tail) on the unseen tracks of "
    "even index",
}


def best_unseen(rows: pd.DataFrame) -> pd.DataFrame:
    """Each unseen clip's best-candidate score of every statistic (its 10 checked candidates;
    the evidence over all, as the default's rows)."""
    unseen = rows[(rows.source != "reference") & (rows.kind == "candidate")]
    keys = ["query_id", "seconds", "condition", "song_index"]
    return unseen.groupby(keys)[list(STATISTICS)].max().reset_index()


def thresholds_of(rows: pd.DataFrame, chosen: float) -> dict[str, dict[str, dict[float, float]]]:
    """Per rule (:data:`RULES`), statistic and length: the score a known clip must reach."""
    best = best_unseen(rows)
    fit = best[best.song_index % 2 == 0]
    out: dict[str, dict[str, dict[float, float]]] = {rule: {} for rule in RULES}
    for stat in STATISTICS:
        largest = best.groupby("seconds")[stat].max()
        out["0 unseen"][stat] = {
            float(s): float(np.nextafter(v, np.inf)) for s, v in largest.items()
        }
        null = fit_null(fit[stat].to_numpy(float), fit.seconds.to_numpy(float))
        out["1e-3 null"][stat] = {
            float(s): float(null.evidence_for(chosen, float(s))) for s in largest.index
        }
    return out


def tables(
    rows: pd.DataFrame, thresholds: dict[str, dict[str, dict[float, float]]]
) -> pd.DataFrame:
    """Known clips at or above each statistic's threshold, at the true offset and as ranked;
    unseen clips at or above it."""
    out = []
    known = rows[rows.source == "reference"]
    best = best_unseen(rows)
    for (condition, seconds), group in known.groupby(["condition", "seconds"]):
        oracle = group[group.kind == "oracle"].set_index("query_id")
        candidates = group[(group.kind == "candidate")]
        unseen_best = best[(best.seconds == seconds) & (best.condition == condition)]
        for rule, by_stat in thresholds.items():
            for stat in STATISTICS:
                limit = by_stat[stat][float(seconds)]
                # As ranked: the candidate of largest score is the right song at the right offset.
                checked = candidates if stat == "evidence" else candidates[candidates["rank"] <= 10]
                top = checked.loc[checked.groupby("query_id")[stat].idxmax()]
                ranked_right = top.right_song & top.offset_right & (top[stat] >= limit)
                wrong = checked[~(checked.right_song & checked.offset_right)]
                best_wrong = wrong.groupby("query_id")[stat].max().reindex(oracle.index)
                out.append(
                    {
                        "rule": rule,
                        "condition": condition,
                        "seconds": seconds,
                        "statistic": stat,
                        "threshold": limit,
                        "known": len(oracle),
                        "oracle_above": int((oracle[stat] >= limit).sum()),
                        "ranked_right_above": int(ranked_right.sum()),
                        "oracle_median": float(oracle[stat].median()),
                        "best_wrong_median": float(best_wrong.median()),
                        "oracle_above_best_wrong": int((oracle[stat] > best_wrong).sum()),
                        "unseen": len(unseen_best),
                        "unseen_median": float(unseen_best[stat].median()),
                        "unseen_above": int((unseen_best[stat] >= limit).sum()),
                    }
                )
    return pd.DataFrame(out)


def main() -> None:
    p = clip_scoring_parser(__doc__ or "", seconds=[1.0, 2.0], per_unseen=2)
    p.add_argument(
        "--label", default="", help="appended to the names of the tables written (not the scores)"
    )
    p.add_argument(
        "--thresholds-from",
        type=Path,
        default=None,
        help="JSON of thresholds fitted on another seed (peak_probe_thresholds_seed<S>.json): "
        "replayed instead of fitted",
    )
    args = p.parse_args()
    folder = output_dir(args)
    manifest = manifest_hash(default_corpus_dir(args.size))
    corpus = CorpusAudio({}, {}, STUDY_RATE, manifest_hash=manifest)
    name = f"peak_probe_seed{args.seed}"
    preset = get_preset("default")
    if args.from_csv:
        rows = pd.read_csv(folder / f"{name}.csv.gz", dtype={"truth": object})
    else:
        djv = study_database(args, manifest, "default")
        rows = score(args, djv)
        rows = compact(rows)
        save(rows, folder, name, corpus, preset.get_params(), gzipped=True)
    chosen = preset.verifier.max_false_match or 1e-3
    rows = with_folds(rows)
    fitted = thresholds_of(rows, chosen)
    if args.thresholds_from is not None:
        raw = json.loads(args.thresholds_from.read_text())
        thresholds = {
            rule: {k: {float(s): v for s, v in d.items()} for k, d in by_stat.items()}
            for rule, by_stat in raw.items()
        }
        source = f"thresholds from {args.thresholds_from.name} (not refitted)"
    else:
        thresholds = fitted
        source = f"thresholds fitted on seed {args.seed}"
        (folder / f"peak_probe_thresholds_seed{args.seed}.json").write_text(
            json.dumps(
                {
                    rule: {k: {str(s): v for s, v in d.items()} for k, d in by_stat.items()}
                    for rule, by_stat in fitted.items()
                },
                indent=2,
            )
        )
    table = tables(rows, thresholds)
    # The default's own null (DEFAULT_NULL) at its threshold, on the same clips' oracle rows.
    null = Dejavu(pipeline="default").null_model
    oracle = rows[rows.kind == "oracle"]
    default_rule = {
        (c, s): int((g.evidence >= null.evidence_for(chosen, float(s))).sum())
        for (c, s), g in oracle.groupby(["condition", "seconds"])
    }
    pd.set_option("display.width", 200)
    text = (
        f"peak_probe seed {args.seed}, {source}\n"
        + "".join(f"rule {k}: {v}\n" for k, v in RULES.items())
        + f"the default's evidence at the true offset >= its null's 1e-3 level: {default_rule}\n"
        + table.to_string(index=False, float_format=lambda v: f"{v:.3g}")
    )
    stem = f"{name}{'_replayed' if args.thresholds_from else ''}{args.label}"
    write_report(folder, stem, text, table)


if __name__ == "__main__":
    main()
