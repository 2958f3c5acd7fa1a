"""The sketch's double differences kept as values (quantised to a few bits) instead of signs.

python experiments/sketch_values.py --size full --seed 1   (scores; the fit seed)
python experiments/sketch_values.py --size full --seed 0   (scores; held out)
python experiments/sketch_values.py --size full --from-csv --fit-seed 1 --report-seeds 0

Why: the default's sketch keeps the sign of each double difference of log band
energies (band pair ``b``, frame ``t``: ``(E[b,t] - E[b+1,t]) - (E[b,t-1] - E[b+1,t-1])``).
For two jointly Gaussian signals with correlation ``rho``, their signs agree with
correlation ``(2 / pi) arcsin(rho)``: about 0.64 ``rho`` when the match is weak,
as a 1 s clip heard through a room is. Kept as values (a few bits each), the
same frames should give a ``z`` up to 1.5 times larger.

Each clip is scored as ``sketch_lags.py`` scores it (every candidate checked,
evidence ``r`` without the fold); then, for each variant (:data:`VARIANTS`), the
correlation of the query's double differences with the song's at each of the
10 best candidates' hash offsets (+-2 frames, the best kept) and at the true
offset (``oracle``), standardised on the same song at the other offsets within
4 s (as the sketch check is). Values are divided by the song's (or query's)
standard deviation and clipped at +-``CLIP``, then quantised to ``bits`` bits
(``sign``: 1 bit, today's sketch up to the agreement's scale; ``float``: none).
Rows to ``sketch_values_seed<S>.csv.gz``; the report as ``sketch_lags.py``'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sketch_lags
from numpy.lib.stride_tricks import sliding_window_view

from dejavu_lab import Dejavu
from dejavu_lab.core.sketch import MIN_BACKGROUND

SEARCH_FRAMES = 2
GUARD_FRAMES = 3
#: Values beyond this many standard deviations are clipped.
CLIP = 2.5
#: Variant name -> bits a value keeps (0: float; 1: the sign).
VARIANTS = {"sign": 1, "q2": 2, "q3": 3, "q4": 4, "float": 0}


def double_differences(energy: np.ndarray) -> np.ndarray:
    """Shape (n_bands - 1, n_frames); frame 0 is 0."""
    across = energy[:-1] - energy[1:]
    out = np.zeros_like(across)
    out[:, 1:] = np.diff(across, axis=1)
    return out


def quantised(values: np.ndarray, bits: int) -> np.ndarray:
    """Standardised, clipped at +-CLIP and kept to ``bits`` bits (mid-rise levels)."""
    scale = float(values[:, 1:].std()) or 1.0
    x = np.clip(values / scale, -CLIP, CLIP)
    if bits == 0:
        return x.astype(np.float32)
    if bits == 1:
        return np.where(x > 0, 1.0, -1.0).astype(np.float32)
    levels = 2**bits
    step = 2 * CLIP / levels
    index = np.clip(np.floor((x + CLIP) / step), 0, levels - 1)
    return (-CLIP + (index + 0.5) * step).astype(np.float32)


def correlation_z(query: np.ndarray, song: np.ndarray, centre: int, background: int) -> float:
    """Best correlation within +-SEARCH_FRAMES of ``centre``, standardised on the others."""
    q = query[:, 1:]
    frames = q.shape[1]
    shifts = np.arange(-background - SEARCH_FRAMES, background + SEARCH_FRAMES + 1)
    starts = centre + shifts + 1
    inside = (starts >= 0) & (starts + frames <= song.shape[1])
    if not inside.any():
        return float("nan")
    lo, hi = int(starts[inside].min()), int(starts[inside].max())
    windows = sliding_window_view(song[:, lo : hi + frames], frames, axis=1)
    # windows: (n_pairs, n_starts, frames)
    dots = np.einsum("bsf,bf->s", windows, q)
    norms = np.sqrt(np.einsum("bsf,bsf->s", windows, windows)) * float(np.linalg.norm(q))
    scores = np.full(len(shifts), np.nan)
    scores[inside] = dots / np.maximum(norms, 1e-12)
    near = (np.abs(shifts) <= SEARCH_FRAMES) & np.isfinite(scores)
    if not near.any():
        return float("nan")
    best = float(np.nanmax(np.where(near, scores, -np.inf)))
    bg = scores[(np.abs(shifts) > SEARCH_FRAMES + GUARD_FRAMES) & np.isfinite(scores)]
    if len(bg) < MIN_BACKGROUND or bg.std() <= 0:
        return float("nan")
    return (best - float(bg.mean())) / float(bg.std())


def rows_maker(energies: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    diffs = {s: double_differences(e) for s, e in energies.items()}
    songs = {v: {s: quantised(d, b) for s, d in diffs.items()} for v, b in VARIANTS.items()}

    def clip_rows(djv: Dejavu, query: Any, n_songs: int) -> list[dict[str, Any]]:
        background = djv.pipeline.verifier.background_frames(djv.pipeline.spectrogram.frame_seconds)

        def scorer(energy: np.ndarray) -> sketch_lags.Scores:
            d = double_differences(energy)
            mine = {v: quantised(d, b) for v, b in VARIANTS.items()}

            def zs(song: str, frame: int) -> dict[str, float]:
                return {
                    f"z_{v}": correlation_z(mine[v], songs[v][song], frame, background)
                    for v in VARIANTS
                }

            return zs

        return sketch_lags.candidate_rows(djv, query, n_songs, scorer)

    return clip_rows


def main() -> None:
    sketch_lags.run_study(
        "sketch_values",
        lambda djv, size: rows_maker(sketch_lags.song_energies(djv, size)),
        VARIANTS,
        "sign",
        __doc__ or "",
    )


if __name__ == "__main__":
    main()
