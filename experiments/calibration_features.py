"""Two candidate features against near-relative music, and whether they help the evidence.

python experiments/calibration_features.py --size full   (after experiments/calibration.py)

For each clip of ``calibration_evidence_seed{0,1}.csv`` whose evidence reaches
``--min-evidence`` (the clean reference clips of 3 s and more, far above any
threshold, are skipped), the query is made again (same seed) and:

- ``balance{K}``: the query is cut in K equal parts and the best candidate
  checked peak by peak on each, at its offset plus the part's start; balance is
  the smallest part's excess of matched peaks over chance (``m - n p0``)
  divided by the parts' mean excess: about 1 when the match holds throughout, 0
  or less when one burst carries it (a shared motif);
- ``second``: the evidence of the runner-up candidate (every candidate
  checked): a true match stands out from the other songs, music that only
  resembles the database raises several of them.

Then each way of folding a feature into the evidence is refitted as the null
is (seed 1, unseen tracks of even index) and replayed at ``1e-3``: false
matches and laptop-mic accuracy on the fit split (seed 1) and the held-out one
(seed 0, odd tracks for the false matches). Clips below ``--min-evidence`` keep
their evidence (balance 1, runner-up 0): they are below every threshold.
Written to experiments/results/<size>/calibration_features.csv and _folds.csv.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from _common import output_dir, parser
from calibration import query_chunks, study_database

from dejavu_lab import Dejavu
from dejavu_lab.core.audio import resample
from dejavu_lab.core.decision.calibration import fit_null
from dejavu_lab.core.invariant import landmarks_only
from dejavu_lab.core.verify import PeakSet, peaks_from_fingerprints
from dejavu_lab.studies.calibration import null_pipeline
from dejavu_lab.studies.corpus import default_corpus_dir, manifest_hash

#: Numbers of parts the query is cut in.
PARTS = (2, 3, 4)


def balance(djv: Dejavu, clip: np.ndarray, song_id: int, offset_s: float) -> dict[str, float]:
    """Smallest part's excess of matched peaks over the parts' mean, for each of :data:`PARTS`."""
    pipe = djv.pipeline
    verifier, rate = pipe.verifier, pipe.spectrogram.sample_rate
    frame_s = pipe.spectrogram.frame_seconds
    _, peaks = pipe.analyse_query(clip)
    frames = pipe.frames_for(len(clip) / rate)
    offset = round(offset_s / frame_s)
    first, stop = verifier.window(offset, frame_s, frames)
    stored = peaks_from_fingerprints(
        landmarks_only(djv.db.song_fingerprints(song_id, first - pipe.hasher.max_dt, stop))
    )

    def excess(lo: int, hi: int) -> float:
        keep = (peaks.frame >= lo) & (peaks.frame < hi)
        part = PeakSet.from_arrays(peaks.frame[keep] - lo, peaks.bin[keep])
        check = verifier(
            part,
            stored,
            song_id=song_id,
            offset_frames=offset + lo,
            query_frames=hi - lo,
            frame_seconds=frame_s,
        )
        return check.matched - check.reference_peaks * check.background_rate

    out = {}
    for k in PARTS:
        edges = np.linspace(0, frames, k + 1).round().astype(int)
        parts = [excess(a, b) for a, b in itertools.pairwise(edges)]
        out[f"balance{k}"] = float(min(parts) / max(np.mean(parts), 1e-9))
    return out


def features(args, djv: Dejavu, seed: int, evidence: pd.DataFrame) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Both features of the selected clips of one seed."""
    probe = Dejavu(
        pipeline=null_pipeline(djv.pipeline),
        store=djv.db,
        null_model=djv.null_model,
        sketch_null=djv.sketch_null,
    )
    ids = {song.name: song.song_id for song in djv.db.songs()}
    rate = djv.pipeline.spectrogram.sample_rate
    skip = (evidence.source == "reference") & (evidence.condition == "clean")
    keep = evidence[(evidence.evidence >= args.min_evidence) & ~(skip & (evidence.seconds >= 3))]
    keep = keep.set_index("query_id")
    rows = []
    for chunk in query_chunks(args, seed, args.per_unseen):
        for query in chunk:
            if query.query_id not in keep.index:
                continue
            row = keep.loc[query.query_id]
            clip = resample(np.asarray(query.clip, dtype=np.float32), query.sample_rate, rate)
            result = probe.match_samples(clip, top_k=djv.pipeline.verifier.candidates)
            scores = sorted((c["evidence"] or 0.0 for c in result.candidates), reverse=True)
            rows.append(
                {
                    "seed": seed,
                    "query_id": query.query_id,
                    "second": scores[1] if len(scores) > 1 else 0.0,
                    **balance(djv, clip, ids[row.answer], float(row.offset_s)),
                }
            )
        print(f"seed {seed}: {len(rows)} of {len(keep)} clips", flush=True)
    return pd.DataFrame(rows)


def replay(rows: pd.DataFrame, score: pd.Series, alpha: float = 1e-3) -> dict[str, object]:
    """Refit the null on ``score`` (seed 1, even tracks) and replay the rule at ``alpha``."""
    unseen = rows.source != "reference"
    fit = (rows.seed == 1) & unseen & (rows.song_index % 2 == 0)
    null = fit_null(score[fit].to_numpy(float), rows.seconds[fit].to_numpy(float))
    named = (
        np.array(
            [null.false_match_probability(r, s) for r, s in zip(score, rows.seconds, strict=True)]
        )
        <= alpha
    )
    out: dict[str, object] = {}
    for seed, tracks in ((1, 0), (0, 1)):
        here = rows.seed == seed
        out[f"seed{seed}_false"] = int(
            (named & here & unseen & (rows.song_index % 2 == tracks)).sum()
        )
        out[f"seed{seed}_false_all_tracks"] = int((named & here & unseen).sum())
        mic = named & here & ~unseen & rows.correct & (rows.condition == "laptop-mic")
        out[f"seed{seed}_laptop_mic"] = "/".join(
            str(int((mic & (rows.seconds == s)).sum())) for s in sorted(rows.seconds.unique())
        )
    return out


def main() -> None:
    p = parser(__doc__ or "", presets=False)
    p.add_argument("--min-evidence", type=float, default=0.5)
    p.add_argument("--per-song", type=int, default=2)
    p.add_argument("--per-unseen", type=int, default=2)
    args = p.parse_args()
    args.seconds, args.conditions, args.workers = (
        [1.0, 2.0, 3.0, 5.0, 10.0],
        ["clean", "laptop-mic"],
        1,
    )
    folder = output_dir(args)
    path = folder / "calibration_features.csv"
    evidence = {s: pd.read_csv(folder / f"calibration_evidence_seed{s}.csv") for s in (0, 1)}
    if path.exists():
        found = pd.read_csv(path)
    else:
        djv = study_database(args, manifest_hash(default_corpus_dir(args.size)), "default")
        found = pd.concat([features(args, djv, s, evidence[s]) for s in (0, 1)], ignore_index=True)
        djv.close()
        found.to_csv(path, index=False, float_format="%.4g")
    rows = pd.concat([e.assign(seed=s) for s, e in evidence.items()], ignore_index=True)
    rows = rows.merge(found, on=["seed", "query_id"], how="left")
    rows["second"] = rows.second.fillna(0.0)
    for k in PARTS:
        rows[f"balance{k}"] = rows[f"balance{k}"].fillna(1.0)
    folds = [{"score": "evidence r", "fitted": 0, **replay(rows, rows.evidence)}]
    for k in PARTS:
        for b0 in (0.2, 0.3, 0.4, 0.5, 0.6):
            score = rows.evidence * np.clip(rows[f"balance{k}"] / b0, 0.0, 1.0)
            folds.append(
                {"score": f"r * min(1, balance{k} / {b0})", "fitted": 2, **replay(rows, score)}
            )
    for lam in (0.25, 0.5, 0.75, 1.0):
        score = rows.evidence - lam * rows.second
        folds.append({"score": f"r - {lam} * second", "fitted": 1, **replay(rows, score)})
    table = pd.DataFrame(folds)
    table.to_csv(folder / "calibration_features_folds.csv", index=False)
    with pd.option_context("display.width", 250, "display.max_colwidth", 40):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
