"""Why the speed search misses a clip: where the right song is lost, clip by clip.

For each reference clip of :mod:`speed_robust`'s plan (one seed, some conditions) that
the ``speed`` preset does not name, the search is replayed step by step and the right
song followed through it, against the true factor the clip was changed by:

- ``true_rank``: the coarse rank (within its kind, by the tallest window of any song)
  of the coarse factor nearest the truth; ``kept`` whether a fine grid was laid around
  a coarse factor within one coarse step of it;
- ``chosen``: the factor the search matched in full and kept, ``chosen_off`` its
  relative distance from the truth, ``right_at_chosen`` the right song's rank among
  that factor's candidates (0 = first; -1 = absent) and its peak check ``z_chosen``;
- ``right_at_true``: the right song's rank among the candidates of a full match at the
  true factor, its aligned hashes and confidence, and its peak check ``z_true``.

python experiments/speed_misses.py --size full --seed 1 --conditions varispeed pitch

The study's clips CSVs (``speed_robust_speed_seed{S}*_clips.csv`` in the output folder)
say which clips were missed; without it every clip is replayed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from _common import database, load_corpus, output_dir, parser
from speed_robust import PLAN, build, database_preset
from tqdm.auto import tqdm

from dejavu_lab.core.audio import resample
from dejavu_lab.core.invariant import landmarks_only
from dejavu_lab.core.presets import get_preset
from dejavu_lab.core.speed import Factor, corrected
from dejavu_lab.core.verify import PeakSet, peaks_from_fingerprints


def true_factor(condition: str, change: float) -> Factor:
    """The factor a clip was changed by (varispeed: ``change``; pitch: semitones)."""
    if condition == "pitch":
        return Factor("pitch", 2.0 ** (change / 12.0))
    return Factor("speed", change)


def peak_z(djv, peaks, song_id: int, offset: int, query_frames: int, verifier) -> float:  # type: ignore[no-untyped-def]
    """The peak check's ``z`` of one song at one offset (scaled query peaks)."""
    frame_s = djv.pipeline.spectrogram.frame_seconds
    first, stop = verifier.window(offset, frame_s, query_frames)
    stored = landmarks_only(
        djv.db.song_fingerprints(song_id, first - djv.pipeline.hasher.max_dt, stop)
    )
    check = verifier(
        PeakSet.from_arrays(peaks.frame, peaks.bin),
        peaks_from_fingerprints(stored),
        song_id=song_id,
        offset_frames=offset,
        query_frames=query_frames,
        frame_seconds=frame_s,
    )
    return float(check.z)


def replay(djv, clip: dict, sample_rate: int, song_id: int) -> dict:  # type: ignore[no-untyped-def]
    """The search of one clip (at ``sample_rate``), step by step, following song ``song_id``."""
    pipe = djv.pipeline
    search, matcher = pipe.speed, pipe.matcher
    frames_of, _ = djv._songs()
    samples = resample(
        np.asarray(clip["clip"], dtype=np.float32), sample_rate, pipe.spectrogram.sample_rate
    )
    _, peaks = pipe.analyse_query(samples)
    query_frames = pipe.frames_for(len(samples) / pipe.spectrogram.sample_rate)
    verifier = search.verifier(pipe.verifier)
    truth = true_factor(clip["condition"], clip["change"])

    def full(factor: Factor):  # type: ignore[no-untyped-def]
        scaled = search.scaled(peaks, factor)
        hashed = pipe.hasher(scaled, query=True)
        lookup = djv._lookup(hashed.hashes, hashed.offsets, frames_of)
        result = matcher(
            hashed.offsets,
            lookup,
            song_frames=frames_of,
            query_frames=round(query_frames * factor.time_scale),
            query_hashes=hashed.hashes,
            top_k=10,
        )
        rank = next((i for i, c in enumerate(result.candidates) if c.song_id == song_id), -1)
        z = math.nan
        if rank >= 0:
            c = result.candidates[rank]
            frames = round(query_frames * factor.time_scale)
            z = peak_z(djv, scaled, song_id, c.offset_frames, frames, verifier)
        return result, rank, z

    coarse = search.coarse_factors()
    heights = list(djv._tallest_windows(peaks, coarse))
    mine = [i for i, f in enumerate(coarse) if f.kind == truth.kind]
    nearest = min(mine, key=lambda i: abs(math.log(coarse[i].value / truth.value)))
    ordered = sorted(mine, key=lambda i: heights[i], reverse=True)
    kept = ordered[: search.keep]
    step = math.log1p(search.coarse_step)
    near_kept = any(abs(math.log(coarse[i].value / truth.value)) <= step for i in kept)
    true_height = int(djv._tallest_windows(peaks, [truth])[0])

    def decided(found) -> bool:  # type: ignore[no-untyped-def]
        return corrected(
            found.result,
            tests=found.factors_tried,
            min_aligned=matcher.min_aligned,
            min_confidence=matcher.min_confidence,
        ).is_match

    outcome = search.search(
        peaks,
        count=djv._tallest_windows,
        match=lambda scaled, factor: full(factor)[0],
        decided=decided,
    )
    _, rank_chosen, z_chosen = full(outcome.factor)
    result_true, rank_true, z_true = full(truth)
    right = result_true.candidates[rank_true] if rank_true >= 0 else None
    top_chosen = outcome.result.candidates[0] if outcome.result.candidates else None
    return {
        "true_factor": truth.value,
        "true_height": true_height,
        "nearest_coarse_height": int(heights[nearest]),
        "kept_heights": ";".join(str(int(heights[i])) for i in kept),
        "true_rank": ordered.index(nearest),
        "kept": near_kept,
        "chosen_kind": outcome.factor.kind,
        "chosen": outcome.factor.value,
        "chosen_off": outcome.factor.value / truth.value - 1.0
        if outcome.factor.kind == truth.kind
        else math.nan,
        "chosen_top_conf": top_chosen.confidence if top_chosen else math.nan,
        "chosen_top_aligned": top_chosen.aligned_hashes if top_chosen else 0,
        "right_at_chosen": rank_chosen,
        "z_chosen": z_chosen,
        "right_at_true": rank_true,
        "aligned_true": right.aligned_hashes if right else 0,
        "conf_true": right.confidence if right else math.nan,
        "z_true": z_true,
        "top_at_true_conf": result_true.candidates[0].confidence
        if result_true.candidates
        else math.nan,
    }


def main() -> None:
    p = parser(__doc__ or "", presets=False)
    p.add_argument("--conditions", nargs="+", choices=list(PLAN), default=["varispeed", "pitch"])
    p.add_argument("--per-unseen", type=int, default=2)
    p.add_argument("--all", action="store_true", help="replay every clip, not only misses")
    p.add_argument(
        "--per-song",
        type=int,
        default=1,
        help="clips per track (the first is the study's; more: a larger set of the same seed)",
    )
    p.add_argument("--seconds", type=float, nargs="+", default=None, help="default: every length")
    args = p.parse_args()
    if args.seconds:
        for condition in args.conditions:
            PLAN[condition] = tuple(s for s in PLAN[condition] if s in args.seconds)
    corpus, folder = load_corpus(args), output_dir(args)
    clips = [
        c
        for c in build(corpus, args.seed, args.per_song, 0, args.conditions)
        if c["source"] == "reference"
    ]
    studies = sorted(folder.glob(f"speed_robust_speed_seed{args.seed}*_clips.csv"))
    if studies and not args.all and args.per_song == 1:
        rows = pd.concat([pd.read_csv(path) for path in studies])
        missed = rows[(rows.source == "reference") & ~rows.correct]
        keys = set(zip(missed.condition, missed.seconds, missed.truth, strict=True))
        clips = [c for c in clips if (c["condition"], c["seconds"], c["truth"]) in keys]
    djv, _ = database(args, corpus, database_preset("speed"))
    djv.pipeline = get_preset("speed")
    ids = {name: song_id for song_id, name in djv._songs()[1].items()}
    out = []
    for clip in tqdm(clips, disable=args.quiet):
        answer = djv.match_samples(clip["clip"], corpus.sample_rate)
        row = {
            "condition": clip["condition"],
            "seconds": clip["seconds"],
            "truth": clip["truth"],
            "change": clip["change"],
            "correct": bool(answer.is_match and answer.song_name == clip["truth"]),
        }
        if row["correct"] and not args.all:
            continue  # no study said which clips were missed: the preset's answer does
        row |= replay(djv, clip, corpus.sample_rate, ids[clip["truth"]])
        out.append(row)
    table = pd.DataFrame(out)
    path = folder / f"speed_misses_seed{args.seed}.csv"
    table.to_csv(path, index=False, float_format="%.4g")
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(table.drop(columns=["truth"]).to_string(index=False))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
