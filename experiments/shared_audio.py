"""Are the false matches of unseen clips shared audio? A listen-free check.

python experiments/shared_audio.py --size full [--min-evidence 1.0]

An unseen track could hold the very recording of a reference track (a reused
cue, a remix of the same stems): naming it would then be a labelling question,
not a false match. For every unseen clip of the calibration study whose
evidence reaches ``--min-evidence`` (clean and laptop-mic, seeds 0 and 1), the
clean excerpt of the unseen track is compared with the reference track at the
answer's offset (within +-1 s): the largest normalised cross-correlation of the
waveforms (1 for the same recording, about 0 for different music) and of the
log-magnitude spectrogram frames (150-5000 Hz, 2048-sample window, 256 hop, at
11,025 Hz). As a control, the same excerpt against a random stretch of the
reference; as a positive control, a reference clip against its own track.
Written to experiments/results/<size>/calibration_shared_audio.csv.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import output_dir, parser
from scipy.signal import correlate, stft

from dejavu_lab.core.audio import load_audio
from dejavu_lab.studies.corpus import default_corpus_dir, tracks

#: Rate the tracks are compared at (Hz).
RATE = 11025


def wave_ncc(excerpt: np.ndarray, stretch: np.ndarray) -> float:
    """Largest normalised cross-correlation of ``excerpt`` at any lag within ``stretch``."""
    a = excerpt - excerpt.mean()
    n = len(a)
    sums = np.concatenate([[0.0], np.cumsum(stretch)])
    squares = np.concatenate([[0.0], np.cumsum(stretch * stretch)])
    energy = squares[n:] - squares[:-n] - (sums[n:] - sums[:-n]) ** 2 / n
    r = correlate(stretch, a, mode="valid") / np.sqrt(np.maximum(energy, 1e-12) * (a @ a))
    return float(r[np.argmax(np.abs(r))])


def log_spectrogram(x: np.ndarray) -> np.ndarray:
    """Log magnitude, 150-5000 Hz, frames in columns."""
    f, _, z = stft(x, RATE, nperseg=2048, noverlap=2048 - 256)
    return np.log1p(100 * np.abs(z[(f >= 150) & (f <= 5000)]))


def spectral_ncc(excerpt: np.ndarray, stretch: np.ndarray) -> float:
    """Largest correlation of the excerpt's spectrogram with the stretch's, frame lag by lag."""
    a, b = log_spectrogram(excerpt), log_spectrogram(stretch)
    a = (a - a.mean()) / (a.std() + 1e-9)
    best = -1.0
    for j in range(b.shape[1] - a.shape[1] + 1):
        w = b[:, j : j + a.shape[1]]
        best = max(best, float((a * (w - w.mean()) / (w.std() + 1e-9)).mean()))
    return best


def compare(x: np.ndarray, start_s: float, seconds: float, y: np.ndarray, at_s: float) -> tuple:
    """Both correlations of ``x[start_s:+seconds]`` with ``y`` at ``at_s`` +- 1 s."""
    excerpt = x[int(start_s * RATE) : int((start_s + seconds) * RATE)]
    stretch = y[max(0, int((at_s - 1.0) * RATE)) : int((at_s + seconds + 1.0) * RATE)]
    return round(wave_ncc(excerpt, stretch), 3), round(spectral_ncc(excerpt, stretch), 3)


def main() -> None:
    p = parser(__doc__ or "", presets=False)
    p.add_argument("--min-evidence", type=float, default=1.0)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    args = p.parse_args()
    folder = output_dir(args)
    corpus_dir = default_corpus_dir(args.size)
    unseen = tracks(corpus_dir, set="unseen")
    reference = {t.path.stem: t for t in tracks(corpus_dir, set="reference")}
    decoded: dict[str, np.ndarray] = {}

    def audio(track) -> np.ndarray:  # type: ignore[no-untyped-def]
        key = str(track.path)
        if key not in decoded:
            decoded[key] = load_audio(track.path, sample_rate=RATE).samples.astype(np.float64)
        return decoded[key]

    rng = np.random.default_rng(0)
    rows = []
    for seed in args.seeds:
        evidence = pd.read_csv(folder / f"calibration_evidence_seed{seed}.csv")
        flagged = evidence[
            (evidence.source != "reference") & (evidence.evidence >= args.min_evidence)
        ]
        for clip in flagged.itertuples():
            track, match = unseen[clip.song_index], reference[clip.answer]
            x, y = audio(track), audio(match)
            wave, spectral = compare(x, clip.start_s, clip.seconds, y, clip.offset_s)
            elsewhere = rng.uniform(1.0, len(y) / RATE - clip.seconds - 1.0)
            control_wave, control_spectral = compare(x, clip.start_s, clip.seconds, y, elsewhere)
            rows.append(
                {
                    "seed": seed,
                    "query_id": clip.query_id,
                    "condition": clip.condition,
                    "seconds": clip.seconds,
                    "unseen_track": track.path.stem,
                    "start_s": clip.start_s,
                    "answer": clip.answer,
                    "offset_s": clip.offset_s,
                    "evidence": clip.evidence,
                    "same_package": track.package == match.package,
                    "wave_ncc": wave,
                    "spectral_ncc": spectral,
                    "control_wave_ncc": control_wave,
                    "control_spectral_ncc": control_spectral,
                }
            )
        known = evidence[(evidence.source == "reference") & (evidence.condition == "clean")]
        for clip in known.sample(4, random_state=seed).itertuples():
            y = audio(reference[clip.truth])
            wave, spectral = compare(y, clip.start_s, clip.seconds, y, clip.start_s)
            rows.append(
                {
                    "seed": seed,
                    "query_id": clip.query_id,
                    "condition": "positive control",
                    "seconds": clip.seconds,
                    "unseen_track": None,
                    "start_s": clip.start_s,
                    "answer": clip.truth,
                    "offset_s": clip.start_s,
                    "evidence": clip.evidence,
                    "same_package": True,
                    "wave_ncc": wave,
                    "spectral_ncc": spectral,
                }
            )
    table = pd.DataFrame(rows)
    table.to_csv(folder / "calibration_shared_audio.csv", index=False)
    with pd.option_context("display.width", 250):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
