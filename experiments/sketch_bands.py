"""More mel bands in the sketch: 48 and 64 bits a frame beside the default's 32.

python experiments/sketch_bands.py --size full --seed 1   (scores; the fit seed)
python experiments/sketch_bands.py --size full --seed 0   (scores; held out)
python experiments/sketch_bands.py --size full --from-csv --fit-seed 1 --report-seeds 0

Why: the sketch's ``z`` at a match grows with the square root of the bits compared when
the bits are independent and keep their agreement, so the bits a 1 s clip holds bound its
evidence. The default keeps 32 a frame (33 mel bands over the spectrogram's 150 Hz-5 kHz:
about 100 Hz wide at the bottom); ``sketch_lags.py`` (more bits from longer lags) and
``sketch_values.py`` (values instead of signs) left the number of bands alone. Narrower bands
give more bits but each is noisier through a room and six talkers, and neighbouring bits
share more of their filters. Which wins is measured here.

Each clip is scored as ``sketch_lags.py`` scores it (every candidate checked, evidence ``r``
without the fold); for each variant (:data:`VARIANTS`, bands) the sketch's ``z`` at each of
the 10 best candidates' hash offsets and at the true offset (``oracle``); the songs'
sketches are made here from their audio. Rows to ``sketch_bands_seed<S>.csv.gz``; the
report and its rule (written before the held-out seed is read) are ``sketch_lags.py``'s.
"""

from __future__ import annotations

from typing import Any

import librosa
import numpy as np
import sketch_lags

from dejavu_lab import Dejavu
from dejavu_lab.core.audio import load_audio
from dejavu_lab.core.sketch import sketch_check
from dejavu_lab.studies.corpus import default_corpus_dir, tracks

#: Variant name -> mel bands (bits a frame: one fewer; at most 65 for a uint64).
VARIANTS = {"b33": 33, "b49": 49, "b65": 65}


def log_bands(djv: Dejavu, samples: np.ndarray) -> dict[str, np.ndarray]:
    """Log energy of each variant's mel bands, shape (n_bands, n_frames) each."""
    params = djv.pipeline.spectrogram
    spec = params(samples)
    power = np.power(10.0, spec.values_db.astype(np.float32) / 10.0, dtype=np.float32)
    n_bins = spec.values_db.shape[0]
    out = {}
    for name, n_bands in VARIANTS.items():
        mel = librosa.filters.mel(
            sr=spec.sample_rate,
            n_fft=spec.window_size,
            n_mels=n_bands,
            fmin=params.fmin_hz,
            fmax=params.fmax_hz,
            norm=None,
            htk=True,
        )
        filters = np.ascontiguousarray(
            mel[:, spec.first_bin : spec.first_bin + n_bins], dtype=np.float32
        )
        out[name] = np.log(filters @ power + np.float32(1e-10))
    return out


def song_bits(djv: Dejavu, size: str) -> dict[str, dict[str, np.ndarray]]:
    """Variant -> song name -> packed bits (uint64 a frame)."""
    rate = djv.pipeline.spectrogram.sample_rate
    out: dict[str, dict[str, np.ndarray]] = {v: {} for v in VARIANTS}
    for t in tracks(default_corpus_dir(size), set="reference"):
        bands = log_bands(djv, load_audio(t.path, sample_rate=rate).samples)
        for v, energy in bands.items():
            out[v][t.name] = sketch_lags.bits(energy, (1,))
    return out


def rows_maker(songs: dict[str, dict[str, np.ndarray]]):  # type: ignore[no-untyped-def]
    def clip_rows(djv: Dejavu, query: Any, n_songs: int) -> list[dict[str, Any]]:
        background = djv.pipeline.verifier.background_frames(djv.pipeline.spectrogram.frame_seconds)
        mine = {v: sketch_lags.bits(e, (1,)) for v, e in log_bands(djv, query.clip).items()}

        def scorer(_energy: np.ndarray) -> sketch_lags.Scores:
            def zs(song: str, frame: int) -> dict[str, float]:
                return {
                    f"z_{v}": sketch_check(
                        mine[v],
                        songs[v][song],
                        frame,
                        search_frames=sketch_lags.SEARCH_FRAMES,
                        background_frames=background,
                        n_bits=n - 1,
                    ).z
                    for v, n in VARIANTS.items()
                }

            return zs

        return sketch_lags.candidate_rows(djv, query, n_songs, scorer)

    return clip_rows


def main() -> None:
    sketch_lags.run_study(
        "sketch_bands",
        lambda djv, size: rows_maker(song_bits(djv, size)),
        VARIANTS,
        "b33",
        __doc__ or "",
    )


if __name__ == "__main__":
    main()
