"""How sharply the speed search's votes peak around the true factor (exploratory).

Clips of the first 12 reference tracks are played at ``--factor`` and heard
through the laptop-mic channel with its babble at 10 dB; each is matched with
its peaks mapped back at factors around the truth. Prints, per clip and
factor, the votes in the best candidate's window (negative: a wrong song) and
its confidence. This set the grid spacing of the ``"speed"`` preset.

python experiments/speed_response.py --size full --factor 1.03 --seconds 5
"""

from __future__ import annotations

import numpy as np
from _common import database, load_corpus, parser
from speed_robust import laptop_mic, make_clip

from dejavu_lab.core.audio import resample
from dejavu_lab.core.speed import scale_peaks


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--factor", type=float, default=1.03)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args()
    corpus = load_corpus(args)
    djv, _ = database(args, corpus, "default")
    pipe, channel, sr = djv.pipeline, laptop_mic(10.0), corpus.sample_rate
    rate = pipe.spectrogram.sample_rate
    frames, names = djv._songs()
    rng = np.random.default_rng(0)
    trials = np.round(np.arange(args.factor - 0.012, args.factor + 0.0121, 0.002), 4)
    print("factors", " ".join(f"{t:9.3f}" for t in trials))
    for k, name in enumerate(list(corpus.reference)[:12]):
        x = corpus.reference[name]
        start = int(rng.integers(10 * sr, len(x) - int(args.seconds * 1.1 * sr) - 10 * sr))
        clip = make_clip(x, sr, start, args.seconds, "varispeed", args.factor)
        clip = channel.apply(clip, sr, k)
        _, peaks = pipe.analyse_query(resample(clip.astype(np.float32), sr, rate))
        query_frames = pipe.frames_for(args.seconds)
        cells = []
        for factor in trials:
            scaled = scale_peaks(peaks, freq_scale=factor, time_scale=factor)
            hashed = pipe.hasher(scaled, query=True)
            lookup = djv._lookup(hashed.hashes, hashed.offsets, frames)
            best = pipe.matcher(
                hashed.offsets,
                lookup,
                song_frames=frames,
                query_frames=round(query_frames * factor),
                query_hashes=hashed.hashes,
            ).candidates[0]
            votes = best.aligned_hashes if names[best.song_id] == name else -best.aligned_hashes
            cells.append(f"{votes:4d}/{best.confidence:4.0f}")
        print(f"{name[:14]:14s}", " ".join(cells), flush=True)


if __name__ == "__main__":
    main()
