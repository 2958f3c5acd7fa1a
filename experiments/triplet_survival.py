"""Why the triplet hashes find so few speed-changed clips through the room: survival at the truth.

python experiments/triplet_survival.py --size full                    (16 min, 2 busy cores)
python experiments/triplet_survival.py --size full --variants preset  (1 min: the preset only)
python experiments/triplet_survival.py --size full --limit 5          (a trial: 5 tracks)

Why: the ``"invariant"`` preset's triplets (:mod:`dejavu_lab.core.invariant`) are invariant to
a speed or pitch change on paper, yet through the laptop microphone the preset names 0-13 % of
speed- or pitch-changed clips where the ``"speed"`` search names about 95 %. This follows each
hash at the *true* alignment (the clip's start and change are known), so no matcher, ranking or
threshold is involved: how many of the stored hashes a query reproduces, and where the others
are lost.

One 5 s clip a reference track (start drawn from ``--seed`` and the track's index), each under
several conditions (``CONDITIONS``: clean or through ``laptop-mic`` with its babble at 10 dB,
at speed 1.0, varispeed 1.03 / 0.97 or a pitch shift; the same channel seed for every
condition of a clip). The reference's peaks are recomputed from its audio as the database
builder does; the query's as a query is analysed (denser peaks, then the triplet stage's
thinning). A query peak stands for the stored peak at ``rint(c0 + s_t q)`` frames and
``rint(f / s_f)`` bins (``c0`` the clip's start in stored frames); it *survives* if a stored
peak is within +-1 frame and +-1 bin of that. Per clip and condition:

- ``peak_precision_*`` / ``peak_recall_*``: query peaks with a stored peak / stored peaks (of
  the clip's span) with a query peak, for the query's full peak set (``all``, the landmarks')
  and its thinned set (``thin``, the triplets');
- landmarks (the default hasher, query fan 30, ``dt`` +-1): ``lm_pairs`` stored pairs inside
  the span, ``lm_both`` the share with both peaks surviving, ``lm_found`` the share the
  query's hashes reproduce at the true offset (query peaks mapped by the true scale first, as
  the speed search does at the true factor; ``lm_found_unscaled`` without, as the default
  matcher sees it), ``lm_k`` the distinct query hashes on the true line;
- triplets (stored triplets with all three peaks inside the span), the chain of losses:
  ``tr_all3`` all three peaks survive in the thinned query set (``tr_recall3`` is
  ``peak_recall_thin ** 3``, what independent losses would give); ``tr_formed`` of those, the
  three surviving query peaks also make a query triplet (both later ones among the first
  ``query_fan_value`` peaks of the query anchor's zone; ``tr_out_of_fan`` the share of the
  rest that fell beyond the fan); ``tr_cells`` of those, the query's hashes (with the
  neighbouring cells of ``query_margin``) include the stored hash, ``tr_flip_ratio`` /
  ``tr_flip_db`` / ``tr_flip_dc`` the share whose own cell of that field differs;
  ``tr_found`` the share of every stored triplet reproduced at the true anchor (+-1 frame) by
  any query hash (``tr_gap_c``: the stored triplets' median ``t_c - t_a``, frames);
  ``tr_kept`` of those, the share the stop-list (``scale__max_postings`` rows
  over all 45 songs) leaves; ``tr_survival`` = found and kept;
- the matcher's view: ``tr_k`` distinct query triplets with a row on the true line (after the
  stop-list), ``tr_queries`` query triplets, ``tr_rows`` rows the lookup returns for the whole
  query, ``tr_song_rows`` of the right song; ``fit_rank`` the right song's rank among the
  :class:`~dejavu_lab.core.scale_matching.ScaleMatcher` fits of those rows (0 first; -1 absent
  or at the wrong offset, more than 5 frames off), ``fit_speed`` its fitted speed and
  ``best_other_k`` the rows of the best other song's fit; ``tr_k_votes`` the true line's
  votes in the coarse pass (a row votes ``1 / rows`` of its query triplet), ``kept_min_votes``
  those of the last block pair the pass keeps (``scale__blocks``), ``true_block_kept`` whether
  a kept pair holds a row of the true line; ``unit_fit_rank`` the rank with every row voting 1.

``--variants`` re-run the triplet part with other triplet parameters (the stored hashes of every
song are rehashed for the stop-list and the fits): ``VARIANTS``.

Writes ``triplet_survival.csv`` (one row a clip, condition and variant) and
``triplet_survival_summary.csv`` (medians over the clips), each with its provenance JSON, in
``experiments/results/<size>/triplet_survival/``. No audio is written.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import librosa
import numpy as np
import pandas as pd
from _common import output_dir, parser, save
from tqdm.auto import tqdm

from dejavu_lab.core.audio import load_audio, resample
from dejavu_lab.core.hashing import Fingerprints, unpack_hashes
from dejavu_lab.core.invariant import TripletHasher, Triplets, quantise, unpack_triplets
from dejavu_lab.core.peaks import Peaks
from dejavu_lab.core.pipeline import Pipeline
from dejavu_lab.core.presets import get_preset
from dejavu_lab.core.scale_matching import ScaleRows, coarse_blocks
from dejavu_lab.core.speed.scaling import scale_peaks
from dejavu_lab.studies.channel import change_speed, get_condition
from dejavu_lab.studies.corpus import default_corpus_dir
from dejavu_lab.studies.corpus.manifest import manifest_hash, tracks
from dejavu_lab.studies.corpus_audio import STUDY_RATE, CorpusAudio

#: name -> (speed factor, pitch shift in semitones, through the laptop microphone).
CONDITIONS = {
    "clean-1.00": (1.0, 0.0, False),
    "clean-vs1.03": (1.03, 0.0, False),
    "mic-1.00": (1.0, 0.0, True),
    "mic-vs1.03": (1.03, 0.0, True),
    "mic-vs0.97": (0.97, 0.0, True),
    "mic-pitch+0.7": (1.0, 0.7, True),
}
#: The ``"invariant"`` preset as the diagnosis measured it (it has since stored fans of 8 /
#: 15 and voted 1 a row: ``fan-8-query-15`` and the ``unit_fit`` columns).
BASE_PARAMS = {"triplets__fan_value": 5, "triplets__query_fan_value": 8, "scale__votes": "share"}
#: name -> triplet parameters changed from :data:`BASE_PARAMS`.
VARIANTS: dict[str, dict[str, object]] = {
    "preset": {},
    "query-fan-15": {"triplets__query_fan_value": 15},
    "no-thinning": {"triplets__query_peaks_per_second": None},
    "cells-16x24": {"triplets__ratio_levels": 16, "triplets__octave_step": 1.0 / 24.0},
    "fan-8-query-15": {"triplets__fan_value": 8, "triplets__query_fan_value": 15},
    "cells-16x24-query-15": {
        "triplets__ratio_levels": 16,
        "triplets__octave_step": 1.0 / 24.0,
        "triplets__query_fan_value": 15,
    },
    "min-dt-16": {"triplets__min_dt": 16},
    "min-dt-16-cells-16x24": {
        "triplets__min_dt": 16,
        "triplets__ratio_levels": 16,
        "triplets__octave_step": 1.0 / 24.0,
    },
    "cells-8x12-query-15": {
        "triplets__ratio_levels": 8,
        "triplets__octave_step": 1.0 / 12.0,
        "triplets__query_fan_value": 15,
    },
}
SECONDS = 5.0
#: Tolerance of a surviving peak (frames, bins) and of an anchor on the true line (frames).
TOLERANCE = 1
#: A fit this many frames or fewer from the true start is at the right offset.
FIT_TOLERANCE = 5


@dataclass(frozen=True)
class Clip:
    """One query: its peaks, the song it came from and the true mapping to that song's frames."""

    song: int
    condition: str
    peaks: Peaks
    query_frames: int
    c0: float  # stored frame of query frame 0 (window centres aligned)
    time_scale: float  # stored frames per query frame
    freq_scale: float  # query frequency over stored frequency


@dataclass(frozen=True)
class Song:
    """A reference track's stored peaks and landmark rows."""

    peaks: Peaks
    landmarks: Fingerprints


def indexed_triplets(
    frame: np.ndarray, bin_: np.ndarray, hasher: TripletHasher, fan: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Triplets]:
    """The triplets :func:`~dejavu_lab.core.invariant.peak_triplets` makes, with the index of
    each one's three peaks (a, b, c) -- the same rule, written out again to keep b and c."""
    t = np.asarray(frame, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_f = np.log2(np.maximum(np.asarray(bin_, dtype=np.float64), 0.0))
    n = len(t)
    index = np.arange(n)
    zone_start = np.maximum(index + 1, np.searchsorted(t, t + hasher.min_dt, side="left"))
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for step_b in range(fan - 1):
        for step_c in range(step_b + 1, fan):
            c = zone_start + step_c
            inside = c < n
            if not inside.any():
                break
            a, b, c = index[inside], (zone_start + step_b)[inside], c[inside]
            gap_b, gap_c = t[b] - t[a], t[c] - t[a]
            keep = (gap_c <= hasher.max_dt) & (gap_b < gap_c) & np.isfinite(log_f[a])
            keep &= np.abs(log_f[b] - log_f[a]) <= hasher.max_octaves
            keep &= np.abs(log_f[c] - log_f[a]) <= hasher.max_octaves
            parts.append((a[keep], b[keep], c[keep]))
    if parts:
        a, b, c = (np.concatenate(p) for p in zip(*parts, strict=True))
    else:
        a = b = c = np.zeros(0, np.intp)
    triplets = Triplets(
        a, (t[b] - t[a]) / np.maximum(t[c] - t[a], 1e-9), log_f[b] - log_f[a], log_f[c] - log_f[a]
    )
    return a, b, c, triplets


def reference_triplets(peaks: Peaks, hasher: TripletHasher) -> tuple[np.ndarray, ...]:
    """A song's stored triplets: (a, b, c, hash), one hash a triplet, checked against the stage."""
    a, b, c, triplets = indexed_triplets(peaks.frame, peaks.bin, hasher, hasher.fan_value)
    hashes, _ = quantise(triplets, ratio_levels=hasher.ratio_levels, octave_step=hasher.octave_step)
    stored = hasher(peaks)
    mine = Fingerprints(hashes, peaks.frame[a].astype(np.int32)).unique()
    if not (
        np.array_equal(mine.hashes, stored.hashes) and np.array_equal(mine.offsets, stored.offsets)
    ):
        raise AssertionError("indexed_triplets does not reproduce TripletHasher")
    return a, b, c, hashes


def thin(peaks: Peaks, hasher: TripletHasher) -> Peaks:
    """The query peaks the triplet stage groups (:meth:`TripletHasher.thinned`)."""
    return hasher.thinned(peaks)


def match_peaks(
    ref_frame: np.ndarray, ref_bin: np.ndarray, q_frame: np.ndarray, q_bin: np.ndarray
) -> np.ndarray:
    """For each stored peak, the nearest mapped query peak within the tolerance (-1: none)."""
    if not len(ref_frame) or not len(q_frame):
        return np.full(len(ref_frame), -1, dtype=np.int64)
    dt = np.abs(ref_frame[:, None].astype(np.int64) - q_frame[None, :])
    df = np.abs(ref_bin[:, None].astype(np.int64) - q_bin[None, :])
    distance = np.where((dt <= TOLERANCE) & (df <= TOLERANCE), dt + df, 1 << 20)
    nearest = np.argmin(distance, axis=1)
    return np.where(distance[np.arange(len(ref_frame)), nearest] < 1 << 20, nearest, -1)


def keys(hashes: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """(hash, frame) pairs as one int64 each (frames shifted to stay positive)."""
    return (np.asarray(hashes, np.int64) << 24) | (np.asarray(frames, np.int64) + (1 << 20))


def near_keys(hashes: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """:func:`keys` of each hash at its frame and +-``TOLERANCE`` frames."""
    return np.concatenate([keys(hashes, frames + d) for d in range(-TOLERANCE, TOLERANCE + 1)])


def share(part: float, whole: float) -> float:
    """``part / whole``, NaN when there is nothing to share."""
    return part / whole if whole else math.nan


class Store:
    """Every song's stored triplets under one triplet setting: the postings and a lookup."""

    def __init__(self, songs: list[Song], hasher: TripletHasher) -> None:
        self.hasher = hasher
        self.triplets = [reference_triplets(s.peaks, hasher) for s in songs]
        rows = [hasher(s.peaks) for s in songs]
        self.song_keys = [np.sort(keys(r.hashes, r.offsets)) for r in rows]
        hashes = np.concatenate([r.hashes for r in rows])
        song = np.concatenate([np.full(len(r), i, np.int64) for i, r in enumerate(rows)])
        offset = np.concatenate([r.offsets for r in rows]).astype(np.int64)
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.song, self.offset = hashes[order], song[order], offset[order]
        self.song_frames = np.array([s.peaks.n_frames for s in songs], dtype=np.int64)

    def postings(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First row and number of rows of each hash."""
        first = np.searchsorted(self.hashes, hashes, side="left")
        return first, np.searchsorted(self.hashes, hashes, side="right") - first

    def rows(self, hashes: np.ndarray, max_postings: int | None) -> tuple[np.ndarray, ...]:
        """The stored rows of each query hash, as ``lookup`` with the stop-list returns them:
        (query hash index, song, offset)."""
        first, count = self.postings(hashes)
        if max_postings is not None:
            count = np.where(count > max_postings, 0, count)
        which = np.repeat(np.arange(len(hashes)), count)
        starts = np.repeat(first - np.cumsum(count) + count, count)
        at = starts + np.arange(len(which))
        return which, self.song[at], self.offset[at]


def clip_rows(clip: Clip, song: Song, store: Store, pipe: Pipeline) -> dict[str, float]:
    """Every measure of one clip under one triplet setting (see the module's docstring)."""
    hasher, matcher = store.hasher, pipe.scale
    q_all = clip.peaks
    q_thin = thin(q_all, hasher)
    ref = song.peaks

    def mapped(peaks: Peaks) -> tuple[np.ndarray, np.ndarray]:
        frame = np.rint(clip.c0 + clip.time_scale * peaks.frame).astype(np.int64)
        return frame, np.rint(peaks.bin / clip.freq_scale).astype(np.int64)

    lo = clip.c0 + TOLERANCE
    hi = clip.c0 + clip.time_scale * (clip.query_frames - 1) - TOLERANCE
    inside = (ref.frame >= lo) & (ref.frame <= hi)
    span = np.flatnonzero(inside)
    out: dict[str, float] = {"ref_peaks": len(span), "query_peaks": len(q_all)}
    match_of: dict[str, np.ndarray] = {}
    for name, peaks in (("all", q_all), ("thin", q_thin)):
        frame, bin_ = mapped(peaks)
        matched = np.full(len(ref.frame), -1, dtype=np.int64)
        matched[span] = match_peaks(ref.frame[span], ref.bin[span], frame, bin_)
        match_of[name] = matched
        out[f"peak_recall_{name}"] = share(np.count_nonzero(matched[span] >= 0), len(span))
        near = (ref.frame >= lo - 4) & (ref.frame <= hi + 4)
        q_in = (frame >= lo) & (frame <= hi)
        back = match_peaks(frame[q_in], bin_[q_in], ref.frame[near], ref.bin[near])
        out[f"peak_precision_{name}"] = share(np.count_nonzero(back >= 0), np.count_nonzero(q_in))
        if name == "all":
            residual_t = ref.frame[span][matched[span] >= 0] - (
                clip.c0 + clip.time_scale * peaks.frame[matched[span][matched[span] >= 0]]
            )
            residual_f = ref.bin[span][matched[span] >= 0] - (
                peaks.bin[matched[span][matched[span] >= 0]] / clip.freq_scale
            )
            out["jitter_frames"] = float(np.mean(np.abs(residual_t))) if len(residual_t) else 0.0
            out["jitter_bins"] = float(np.mean(np.abs(residual_f))) if len(residual_f) else 0.0

    # Landmarks: stored pairs inside the span, their peaks, and the query's hashes.
    f1, f2, dt = unpack_hashes(song.landmarks.hashes)
    a_frame = song.landmarks.offsets.astype(np.int64)
    in_span = (a_frame >= lo) & (a_frame + dt <= hi)
    ref_key = (ref.frame.astype(np.int64) << 16) | ref.bin
    order = np.argsort(ref_key)

    def peak_index(frames: np.ndarray, bins: np.ndarray) -> np.ndarray:
        at = order[np.searchsorted(ref_key[order], (frames.astype(np.int64) << 16) | bins)]
        return at

    ia = peak_index(a_frame[in_span], f1[in_span])
    it = peak_index(a_frame[in_span] + dt[in_span], f2[in_span])
    pair_keys = keys(song.landmarks.hashes[in_span], a_frame[in_span])
    out["lm_pairs"] = len(ia)
    out["lm_recall2"] = out["peak_recall_all"] ** 2
    out["lm_both"] = share(
        np.count_nonzero((match_of["all"][ia] >= 0) & (match_of["all"][it] >= 0)), len(ia)
    )
    song_lm = np.sort(keys(song.landmarks.hashes, a_frame))
    for label, scaled in (
        ("lm_found", True),
        ("lm_found_unscaled", False),
    ):
        peaks = q_all
        if scaled:
            peaks = scale_peaks(q_all, freq_scale=clip.freq_scale, time_scale=clip.time_scale)
        fp = pipe.hasher(peaks, query=True)
        variants, origin = pipe.hasher.lookup_variants(fp.hashes)
        # Scaled frames are stored frames less c0; unscaled ones are read at speed 1.0.
        at = np.rint(clip.c0 + fp.offsets[origin].astype(np.float64)).astype(np.int64)
        out[label] = share(np.isin(pair_keys, near_keys(variants, at)).sum(), len(pair_keys))
        if scaled:
            hit = np.zeros(len(fp), dtype=bool)
            for d in range(-TOLERANCE, TOLERANCE + 1):
                hit[origin[np.isin(keys(variants, at + d), song_lm)]] = True
            out["lm_k"] = int(hit.sum())
            out["lm_queries"] = len(fp)

    # Triplets: the chain of losses of the stored triplets inside the span.
    a, b, c, ref_hash = store.triplets[clip.song]
    whole = (ref.frame[a] >= lo) & (ref.frame[c] <= hi)
    a, b, c, ref_hash = a[whole], b[whole], c[whole], ref_hash[whole]
    qa, qb, qc, q_triplets = indexed_triplets(
        q_thin.frame, q_thin.bin, hasher, hasher.query_fan_value or max(hasher.fan_value, 2)
    )
    q_hash, q_origin = quantise(
        q_triplets,
        ratio_levels=hasher.ratio_levels,
        octave_step=hasher.octave_step,
        margin=hasher.query_margin,
    )
    q_base, _ = quantise(
        q_triplets, ratio_levels=hasher.ratio_levels, octave_step=hasher.octave_step
    )
    m = match_of["thin"]
    ma, mb, mc = m[a], m[b], m[c]
    all3 = (ma >= 0) & (mb >= 0) & (mc >= 0)
    n = max(len(q_thin), 1)
    q_triplet_key = (qa.astype(np.int64) * n + qb) * n + qc
    t_key = (ma.astype(np.int64) * n + mb) * n + mc
    sorter = np.argsort(q_triplet_key)
    pos = np.searchsorted(q_triplet_key[sorter], t_key)
    pos = np.minimum(pos, max(len(sorter) - 1, 0))
    formed = all3 & (len(sorter) > 0)
    if len(sorter):
        formed &= q_triplet_key[sorter][pos] == t_key
    which = np.where(formed, sorter[pos] if len(sorter) else 0, -1)
    # Out of the fan: a surviving later peak beyond the query zone's first fan peaks.
    q_t = q_thin.frame.astype(np.float64)
    zone = np.maximum(
        np.arange(len(q_t)) + 1, np.searchsorted(q_t, q_t + hasher.min_dt, side="left")
    )
    fan = hasher.query_fan_value or max(hasher.fan_value, 2)
    lost = all3 & ~formed
    beyond = lost & (mc - zone[np.maximum(ma, 0)] >= fan)
    # Cells: the query triplet's hashes (with neighbours) against the stored one.
    q_pair = keys(q_hash, q_origin)
    cells = formed.copy()
    cells[formed] = np.isin(keys(ref_hash[formed], which[formed]), q_pair)
    r_cells = unpack_triplets(ref_hash[formed])
    q_cells = unpack_triplets(q_base[which[formed]])
    flips = [r != q for r, q in zip(r_cells, q_cells, strict=True)]
    # End to end: any query hash at the true anchor frame.
    q_anchor = np.rint(clip.c0 + clip.time_scale * q_thin.frame[qa]).astype(np.int64)
    ref_keys = keys(ref_hash, ref.frame[a])
    found = np.isin(ref_keys, near_keys(q_hash, q_anchor[q_origin]))
    _, stored_rows = store.postings(ref_hash)
    limit = matcher.max_postings
    kept = found & ((stored_rows <= limit) if limit is not None else True)
    out.update(
        tr_stored=len(a),
        tr_all3=share(all3.sum(), len(a)),
        tr_recall3=out["peak_recall_thin"] ** 3,
        tr_formed=share(formed.sum(), all3.sum()),
        tr_out_of_fan=share(beyond.sum(), lost.sum()),
        tr_cells=share(cells.sum(), formed.sum()),
        tr_flip_ratio=share(flips[0].sum(), formed.sum()),
        tr_flip_db=share(flips[1].sum(), formed.sum()),
        tr_flip_dc=share(flips[2].sum(), formed.sum()),
        tr_found=share(found.sum(), len(a)),
        tr_kept=share(kept.sum(), found.sum()),
        tr_survival=share(kept.sum(), len(a)),
        tr_gap_c=float(np.median(ref.frame[c] - ref.frame[a])) if len(a) else math.nan,
        tr_stored_postings=float(np.median(stored_rows)) if len(stored_rows) else math.nan,
    )

    # The matcher's view: rows of the whole lookup, the true line, the fit.
    row_q, row_song, row_offset = store.rows(q_hash, limit)
    triplet = q_origin[row_q]
    on_line = (row_song == clip.song) & (np.abs(row_offset - q_anchor[triplet]) <= TOLERANCE)
    rows = ScaleRows(q_thin.frame[qa][triplet].astype(np.float64), row_song, row_offset, triplet)
    weights = rows.weights(matcher.votes)
    speeds = matcher.speeds()
    reach = max(abs(speeds[0] - 1.0), abs(speeds[-1] - 1.0)) * clip.query_frames / 2.0
    kept = coarse_blocks(
        rows,
        weights,
        query_frames=clip.query_frames,
        block_frames=2 * math.ceil(reach) + 2 * matcher.time_tolerance + 2,
        keep=matcher.blocks,
    )
    out.update(
        tr_queries=len(qa),
        tr_k=len(np.unique(triplet[on_line])),
        tr_rows=len(row_song),
        tr_song_rows=int(np.count_nonzero(row_song == clip.song)),
        tr_k_votes=float(weights[on_line].sum()),
        kept_min_votes=float(weights[kept[-1]].sum()) if kept else 0.0,
        true_block_kept=int(any(on_line[k].any() for k in kept)),
        best_other_k=0,
    )
    unit = dataclasses.replace(matcher, votes="unit")
    for label, fitter in (("fit", matcher), ("unit_fit", unit)):
        fits = fitter(rows, song_frames=store.song_frames, query_frames=clip.query_frames)
        rank = next(
            (
                i
                for i, f in enumerate(fits)
                if f.song_id == clip.song and abs(f.offset_frames - clip.c0) <= FIT_TOLERANCE
            ),
            -1,
        )
        out[f"{label}_rank"] = rank
        out[f"{label}_k"] = fits[rank].aligned_rows if rank >= 0 else 0
        if label == "fit":
            out["fit_speed"] = fits[rank].speed if rank >= 0 else math.nan
            others = (f.aligned_rows for f in fits if f.song_id != clip.song)
            out["best_other_k"] = max(others, default=0)
    return out


def make_query(
    samples: np.ndarray, start: int, condition: str, seed: int, pipe: Pipeline
) -> tuple[Peaks, int, float, float, float]:
    """The query's peaks and true mapping of one clip of ``samples`` (at the study's rate)."""
    speed, semitones, mic = CONDITIONS[condition]
    rate = STUDY_RATE
    n_out = round(SECONDS * rate)
    if semitones:
        excerpt = samples[start : start + n_out]
        clip = librosa.effects.pitch_shift(excerpt, sr=rate, n_steps=semitones)
    else:
        # Long enough either way: change_speed keeps the excerpt's length.
        excerpt = samples[start : start + max(n_out, math.ceil(SECONDS * speed * rate) + 1)]
        clip = change_speed(excerpt, rate, factor=speed)[:n_out]
    if mic:
        clip = get_condition("laptop-mic-10db").apply(clip, rate, seed)
    low = resample(np.asarray(clip, dtype=np.float32), rate, pipe.spectrogram.sample_rate)
    _, peaks = pipe.analyse_query(low)
    query_frames = pipe.frames_for(len(low) / pipe.spectrogram.sample_rate)
    hop, half = pipe.spectrogram.hop_length, pipe.spectrogram.window_size / 2
    start_low = start * pipe.spectrogram.sample_rate / rate
    # Query frame q's window centre, q hop + half, is song sample start + speed (q hop + half).
    c0 = (start_low + speed * half - half) / hop
    return peaks, query_frames, c0, speed, speed * 2.0 ** (semitones / 12.0)


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Medians over the clips of each variant and condition, and the right fits."""
    measures = [c for c in rows.columns if c not in ("variant", "condition", "song", "track")]
    table = rows.groupby(["variant", "condition"], sort=False)[measures].median()
    table["fit_first"] = rows.groupby(["variant", "condition"], sort=False).fit_rank.apply(
        lambda r: int((r == 0).sum())
    )
    table["fit_top3"] = rows.groupby(["variant", "condition"], sort=False).fit_rank.apply(
        lambda r: int(((r >= 0) & (r < 3)).sum())
    )
    table["unit_fit_first"] = rows.groupby(
        ["variant", "condition"], sort=False
    ).unit_fit_rank.apply(lambda r: int((r == 0).sum()))
    table["true_block_kept_clips"] = rows.groupby(
        ["variant", "condition"], sort=False
    ).true_block_kept.sum()
    table["clips"] = rows.groupby(["variant", "condition"], sort=False).size()
    return table.reset_index()


def main() -> None:
    p = parser(__doc__.splitlines()[0], presets=False)
    p.add_argument(
        "--conditions",
        nargs="+",
        choices=list(CONDITIONS),
        default=list(CONDITIONS),
        metavar="NAME",
        help=f"conditions of each clip (default: all of {', '.join(CONDITIONS)})",
    )
    p.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        metavar="NAME",
        help=f"triplet settings (default: all of {', '.join(VARIANTS)})",
    )
    p.add_argument("--limit", type=int, default=0, help="only the first tracks (a trial)")
    args = p.parse_args()
    started = time.perf_counter()
    corpus_dir = default_corpus_dir(args.size)
    listed = tracks(corpus_dir, set="reference")
    if args.limit:
        listed = listed[: args.limit]
    base = get_preset("invariant").with_params(**BASE_PARAMS)
    songs: list[Song] = []
    clips: list[Clip] = []
    names: list[str] = []
    for index, track in enumerate(tqdm(listed, desc="tracks", disable=args.quiet)):
        samples = load_audio(track.path, sample_rate=STUDY_RATE).samples
        peaks = base.find_peaks(resample(samples, STUDY_RATE, base.spectrogram.sample_rate))
        songs.append(Song(peaks, base.hasher(peaks)))
        names.append(track.name)
        rng = np.random.default_rng(np.random.SeedSequence([args.seed, index]))
        margin = 10 * STUDY_RATE
        need = math.ceil(SECONDS * 1.06 * STUDY_RATE) + 1
        start = int(rng.integers(margin, len(samples) - need - margin))
        channel_seed = int(rng.integers(2**31))
        for condition in args.conditions:
            peaks_q, frames, c0, t_scale, f_scale = make_query(
                samples, start, condition, channel_seed, base
            )
            clips.append(Clip(index, condition, peaks_q, frames, c0, t_scale, f_scale))
    rows = []
    for variant in args.variants:
        pipe = base.with_params(**VARIANTS[variant])
        store = Store(songs, pipe.triplets)
        for clip in tqdm(clips, desc=variant, disable=args.quiet):
            measured = clip_rows(clip, songs[clip.song], store, pipe)
            rows.append(
                {
                    "variant": variant,
                    "condition": clip.condition,
                    "song": clip.song,
                    "track": names[clip.song],
                    **measured,
                }
            )
    table = pd.DataFrame(rows)
    folder = output_dir(args) / "triplet_survival"
    folder.mkdir(parents=True, exist_ok=True)
    corpus = CorpusAudio({}, {}, STUDY_RATE, manifest_hash=manifest_hash(corpus_dir))
    params = {
        "seconds": SECONDS,
        "tolerance": TOLERANCE,
        "conditions": {c: CONDITIONS[c] for c in args.conditions},
        "variants": {v: VARIANTS[v] for v in args.variants},
        "tracks": len(listed),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    save(table, folder, "triplet_survival", corpus, params)
    summary = summarize(table)
    save(summary, folder, "triplet_survival_summary", corpus, params)
    shown = [
        "peak_precision_thin",
        "peak_recall_thin",
        "lm_both",
        "lm_found",
        "lm_k",
        "tr_all3",
        "tr_recall3",
        "tr_formed",
        "tr_cells",
        "tr_found",
        "tr_kept",
        "tr_survival",
        "tr_k",
        "tr_k_votes",
        "kept_min_votes",
        "true_block_kept_clips",
        "fit_first",
        "unit_fit_first",
    ]
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(summary.set_index(["variant", "condition"])[shown].round(3).to_string())
    print(f"wrote {folder} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
