"""Why the default misses short laptop-mic clips, and what query-side settings and decoys change.

python experiments/calibration_diagnosis.py --size full

The calibration study's clips (:mod:`calibration`: seeds 0 and 1, 1 clip of each reference
track and 2 of each unseen track a length and condition), on the default preset's database:

1. **Misses** (``calibration_misses.csv``): each known clip of the fit seed, every song checked
   peak by peak: where the right song is in the hash vote's ranking and in the evidence's, how
   far the offset of its hash window is from the truth, its evidence, the best wrong
   candidate's, and the peak check of the right song at the true offset (an oracle offset:
   the most any ranking or offset search could give it).
2. **Query-side settings** (``calibration_query_side.csv``): every clip scored with each
   setting (no database rebuild), the null refitted on seed 1 and the unseen tracks of even
   index, as the default's, and the rule replayed at the default threshold; the unseen tracks
   of odd index are the held-out ones.
3. **Decoys as a per-query null** (same table): each clip's query peaks mirrored in frequency
   (:class:`MirroredPeaks`) and scored against the same database give the evidence ``d`` of a
   query that cannot match but has the clip's density and rhythm; ``r - lambda d`` is refitted
   and replayed likewise.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from _common import at_true_offset, output_dir, parser, save
from calibration import decision_table, fit_half, query_chunks, study_database

from dejavu_lab import Dejavu
from dejavu_lab.core.audio import resample
from dejavu_lab.core.decision.calibration import peak_evidence
from dejavu_lab.core.peaks import PeakPicker, Peaks
from dejavu_lab.core.presets import get_preset
from dejavu_lab.studies import CorpusAudio
from dejavu_lab.studies.accuracy import OFFSET_TOLERANCE_S
from dejavu_lab.studies.calibration import calibrate, evidence_rows, null_pipeline
from dejavu_lab.studies.corpus import default_corpus_dir, manifest_hash
from dejavu_lab.studies.corpus_audio import STUDY_RATE
from dejavu_lab.studies.queries import Query

#: Query-side settings compared with the default (none needs the database rebuilt).
SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "query_density 1.5": {"peaks__query_density": 1.5},
    "query_density 3": {"peaks__query_density": 3.0},
    "query_fan_value 45": {"hasher__query_fan_value": 45},
    "query_dt_tolerance 2": {"hasher__query_dt_tolerance": 2},
    "query_shifts 4": {"spectrogram__query_shifts": 4},
    "verifier freq_tolerance 1": {"verifier__freq_tolerance": 1},
    "verifier time_tolerance 0": {"verifier__time_tolerance": 0},
    "verifier time_tolerance 2": {"verifier__time_tolerance": 2},
    "verifier candidates 20": {"verifier__candidates": 20},
    "verifier background_s 8": {"verifier__background_s": 8.0},
    "verifier search_frames 4": {"verifier__search_frames": 4},
}

#: Weights of the decoy's evidence subtracted from the query's (``r - lambda d``).
DECOY_WEIGHTS = (0.25, 0.5, 1.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MirroredPeaks(PeakPicker):
    """The peak picker whose *query* peaks are mirrored in frequency: a decoy query.

    Bin ``b`` becomes ``low_bin + high_bin - b``: the clip's number of peaks, rhythm and
    spacing are kept, its pitches are not, so it cannot match a stored song.

    Parameters
    ----------
    low_bin, high_bin : int
        The analysed band's first and last bins (from the spectrogram's ``fmin_hz``,
        ``fmax_hz``).
    """

    # Query-only, as they touch no stored fingerprint: the database's parameters still match.
    low_bin: int = dataclasses.field(default=0, metadata={"query_only": True})
    high_bin: int = dataclasses.field(default=0, metadata={"query_only": True})

    def _mirror(self, peaks: Peaks, query: bool) -> Peaks:
        if not query:
            return peaks
        bins = (self.low_bin + self.high_bin - peaks.bin).astype(peaks.bin.dtype)
        order = np.lexsort((bins, peaks.frame))
        return dataclasses.replace(
            peaks, frame=peaks.frame[order], bin=bins[order], amp_db=peaks.amp_db[order]
        )

    def __call__(self, spec, *, query: bool = False) -> Peaks:  # type: ignore[no-untyped-def]
        return self._mirror(super().__call__(spec, query=query), query)

    def from_power(self, spec, *, query: bool = False) -> Peaks:  # type: ignore[no-untyped-def]
        return self._mirror(super().from_power(spec, query=query), query)


def decoy_pipeline(djv: Dejavu) -> Any:
    """The database's pipeline with :class:`MirroredPeaks` (its stored songs are unchanged)."""
    spec = djv.pipeline.spectrogram
    low = int(np.ceil(spec.fmin_hz * spec.window_size / spec.sample_rate))
    high = int(np.floor(spec.fmax_hz * spec.window_size / spec.sample_rate))
    peaks = MirroredPeaks(**dataclasses.asdict(djv.pipeline.peaks), low_bin=low, high_bin=high)
    return dataclasses.replace(djv.pipeline, peaks=peaks)


def study_clips(args, seed: int, rate: int) -> list[Query]:  # type: ignore[no-untyped-def]
    """The calibration study's clips of a seed, resampled to the pipeline's rate (to fit in
    memory; the matcher would resample them the same way)."""
    return [
        dataclasses.replace(q, clip=resample(q.clip, q.sample_rate, rate), sample_rate=rate)
        for chunk in query_chunks(args, seed, args.per_unseen)
        for q in chunk
    ]


def right_song_rows(djv: Dejavu, queries: list[Query]) -> pd.DataFrame:
    """Where the right song is for each known clip, every song checked (see the module doc)."""
    songs = djv.db.stats().num_songs
    probe = Dejavu(
        pipeline=null_pipeline(djv.pipeline).with_params(verifier__candidates=songs),
        store=djv.db,
        null_model=djv.null_model,
        sketch_null=djv.sketch_null,
    )
    frame_s = probe.pipeline.spectrogram.frame_seconds
    scales = probe.evidence_scales()
    rows = []
    for query in queries:
        found = probe.match_samples(query.clip, query.sample_rate, top_k=songs)
        ranked = found.candidates
        evidence = np.array([c["evidence"] or 0.0 for c in ranked])
        right = next(i for i, c in enumerate(ranked) if c["song_name"] == query.song_name)
        mine = ranked[right]
        # The right song's peak check at the true offset: the most any ranking could give it.
        _, query_peaks = probe.pipeline.analyse_query(query.clip)
        oracle = at_true_offset(mine, query.start_s / frame_s)
        frames = probe.pipeline.frames_for(len(query.clip) / query.sample_rate)
        check = probe._verify([oracle], query_peaks, frames)[0]
        others = np.delete(evidence, right)
        rows.append(
            {
                "query_id": query.query_id,
                "condition": query.condition,
                "seconds": query.duration_s,
                "truth": query.song_name,
                "hash_rank": right + 1,
                "evidence_rank": int(np.sum(evidence > evidence[right])) + 1,
                "hash_offset_error_s": abs(mine["offset_seconds"] - query.start_s),
                "offset_right": abs(mine["offset_seconds"] - query.start_s) <= OFFSET_TOLERANCE_S,
                "hash_confidence": mine["confidence"],
                "aligned_hashes": mine["aligned_hashes"],
                "evidence": evidence[right],
                "best_wrong_evidence": float(others.max()) if len(others) else 0.0,
                "best_wrong_song": ranked[
                    int(np.argmax(np.where(np.arange(len(ranked)) == right, -np.inf, evidence)))
                ]["song_name"],
                "oracle_z": check.z,
                "oracle_frame_z": check.frame_z,
                "oracle_share": check.matched / max(check.reference_peaks, 1),
                "oracle_evidence": peak_evidence(
                    check.z,
                    check.frame_z,
                    check.matched,
                    check.reference_peaks,
                    float(mine["confidence"]),
                    scales,
                ),
                "needed_evidence": probe.null_model.evidence_for(
                    get_preset("default").verifier.max_false_match or 1e-3, query.duration_s
                ),
            }
        )
    return pd.DataFrame(rows)


def replay(name: str, evidence: dict[int, pd.DataFrame], chosen: float, fit_seed: int) -> list:
    """The rule at ``chosen`` with the null refitted on the fit split, both seeds."""
    fit = evidence[fit_seed]
    null = calibrate(fit[fit_half(fit)].assign(truth=None))
    out = []
    for seed, rows in evidence.items():
        all_unseen = decision_table(rows, null, chosen)
        held = decision_table(rows[(rows.source == "reference") | ~fit_half(rows)], null, chosen)
        out.append(
            all_unseen.assign(
                setting=name,
                seed=seed,
                held_out_false=held.false_matches.to_numpy(),
                held_out_total=held.unseen_total.to_numpy(),
                needed_evidence=[null.evidence_for(chosen, s) for s in all_unseen.seconds],
            )
        )
    return out


def main() -> None:
    p = parser(__doc__ or "", presets=False)
    p.add_argument("--conditions", nargs="+", default=["clean", "laptop-mic"])
    p.add_argument("--seconds", nargs="+", type=float, default=[1.0, 2.0, 3.0, 5.0, 10.0])
    p.add_argument("--per-song", type=int, default=1)
    p.add_argument("--per-unseen", type=int, default=2)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--fit-seed", type=int, default=1)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    folder = output_dir(args)
    manifest = manifest_hash(default_corpus_dir(args.size))
    corpus = CorpusAudio({}, {}, STUDY_RATE, manifest_hash=manifest)
    chosen = get_preset("default").verifier.max_false_match or 1e-3
    djv = study_database(args, manifest, "default")
    rate = djv.pipeline.spectrogram.sample_rate
    clips = {seed: study_clips(args, seed, rate) for seed in args.seeds}
    params = djv.pipeline.get_params()

    known = [q for q in clips[args.fit_seed] if q.source == "reference"]
    misses = right_song_rows(djv, known).assign(seed=args.fit_seed)
    save(misses, folder, "calibration_misses", corpus, params)
    print(misses.groupby(["condition", "seconds"])[["hash_rank", "evidence_rank"]].median())

    tables: list[pd.DataFrame] = []
    with ProcessPoolExecutor(args.workers) as executor:

        def scored(pipeline: Any) -> dict[int, pd.DataFrame]:
            variant = Dejavu(
                pipeline=pipeline,
                store=djv.db,
                null_model=djv.null_model,
                sketch_null=djv.sketch_null,
            )
            return {
                seed: evidence_rows(variant, clips[seed], progress=False, executor=executor)
                for seed in args.seeds
            }

        base: dict[int, pd.DataFrame] = {}
        for name in args.settings:
            evidence = scored(djv.pipeline.with_params(**SETTINGS[name]))
            base = evidence if name == "default" else base
            tables += replay(name, evidence, chosen, args.fit_seed)
            print(f"{name}: scored", flush=True)
        if base:
            decoys = scored(decoy_pipeline(djv))
            for weight in DECOY_WEIGHTS:
                folded = {
                    seed: rows.assign(
                        evidence=rows.evidence - weight * decoys[seed].evidence.to_numpy()
                    )
                    for seed, rows in base.items()
                }
                tables += replay(f"r - {weight:g} decoy", folded, chosen, args.fit_seed)
            for seed, rows in decoys.items():
                save(
                    rows.assign(query_evidence=base[seed].evidence.to_numpy()),
                    folder,
                    f"calibration_decoys_seed{seed}",
                    corpus,
                    params,
                )
    table = pd.concat(tables, ignore_index=True)
    save(table, folder, "calibration_query_side", corpus, params)
    wide = table.pivot_table(
        index=["setting", "seed", "condition"], columns="seconds", values="correct"
    )
    false = table.groupby(["setting", "seed", "condition"])[
        ["false_matches", "held_out_false"]
    ].sum()
    print(wide.join(false).to_string())


if __name__ == "__main__":
    main()
