"""Speed, pitch and tempo changes through a laptop microphone: the speed search's study.

Clips of the reference tracks (and, for false matches, of the unseen ones) are
played at another speed (varispeed, factor uniform on 0.95-0.99 or 1.01-1.05),
shifted in pitch by 0.5-1 semitone either way (``librosa.effects.pitch_shift``)
or stretched in time by 0.95-1.05 (``librosa.effects.time_stretch``), then heard
through the laptop-mic channel with its babble at 10 dB SNR. ``speed-1.0`` is
the usual laptop-mic channel (babble at 5 dB) without any change. Each clip
holds ``seconds`` of audio after the change; its start is given in the
reference's time.

python experiments/speed_robust.py --size full --seed 0 --presets default speed invariant
python experiments/speed_robust.py --size full --seed 2 --per-unseen 2 \
    --presets invariant invariant-fan5-8-share \
    --variant "invariant-fan5-8-share=invariant:triplets__fan_value=5,\
triplets__query_fan_value=8,scale__votes=share"

``--variant NAME=BASE:param=value,...`` adds a preset ``NAME``, ``BASE`` with those
parameters (values as JSON, bare words as strings), to the run (if ``--presets`` does not
name it) and to its file names.

Presets that store the same fingerprints share one database (``speed`` uses
``default``'s, ``invariant-speed`` uses ``invariant``'s, with triplet hashes).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time

import librosa
import numpy as np
import pandas as pd
from _common import database, load_corpus, output_dir, parser, save
from tqdm.auto import tqdm

from dejavu_lab.core.presets import PRESETS, get_preset
from dejavu_lab.studies.accuracy import OFFSET_TOLERANCE_S, summarize_accuracy
from dejavu_lab.studies.channel import CONDITIONS, Channel, Noise, change_speed

#: Conditions and the clip lengths each is measured at (issue 14, item 3).
PLAN = {
    "varispeed": (2.0, 3.0, 5.0),
    "pitch": (3.0, 5.0),
    "stretch": (5.0,),
    "speed-1.0": (1.0, 2.0, 3.0, 5.0),
}
CONDITION_IDS = {name: index for index, name in enumerate(PLAN)}


def laptop_mic(snr_db: float) -> Channel:
    """The laptop-mic channel with its babble at ``snr_db``."""
    stages = tuple(
        dataclasses.replace(stage, snr_db=snr_db) if isinstance(stage, Noise) else stage
        for stage in CONDITIONS["laptop-mic"].stages
    )
    return Channel(stages=stages, name=f"laptop-mic-{snr_db:g}db")


def draw_change(condition: str, rng: np.random.Generator) -> float:
    """The clip's change: a speed or stretch factor, or semitones."""
    if condition == "speed-1.0":
        return 1.0
    side = 1.0 if rng.random() < 0.5 else -1.0
    if condition == "pitch":
        return side * rng.uniform(0.5, 1.0)
    return 1.0 + side * rng.uniform(0.01, 0.05)


def make_clip(
    samples: np.ndarray, sample_rate: int, start: int, seconds: float, condition: str, change: float
) -> np.ndarray:
    """``seconds`` of audio after the change, from ``start`` in the song."""
    n_out = round(seconds * sample_rate)
    if condition == "pitch":
        excerpt = samples[start : start + n_out]
        return np.asarray(librosa.effects.pitch_shift(excerpt, sr=sample_rate, n_steps=change))
    n_in = math.ceil(seconds * change * sample_rate) + 1
    excerpt = samples[start : start + n_in].astype(np.float64)
    if condition == "varispeed":
        played = change_speed(excerpt, sample_rate, factor=change)
    elif condition == "stretch":
        played = librosa.effects.time_stretch(excerpt, rate=change)
    else:
        played = excerpt
    out = np.zeros(n_out)
    out[: min(n_out, len(played))] = played[:n_out]
    return out


def register_variant(spec: str) -> tuple[str, str, dict[str, object]]:
    """Add ``NAME=BASE:param=value,...`` to :data:`PRESETS` (values as JSON, else strings).

    Examples
    --------
    >>> register_variant("doc-example=invariant:scale__votes=share,scale__blocks=4")[2]
    {'scale__votes': 'share', 'scale__blocks': 4}
    """
    head, _, params = spec.partition(":")
    name, _, base = head.partition("=")
    if not name or not base or not params:
        raise SystemExit(f"--variant {spec!r}: expected NAME=BASE:param=value,...")
    values: dict[str, object] = {}
    for item in params.split(","):
        key, _, text = item.partition("=")
        try:
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text
    PRESETS[name] = get_preset(base).with_params(**values)
    return name, base, values


def database_preset(preset: str) -> str:
    """The first preset storing the same fingerprints as ``preset``: one database for both."""
    wanted = get_preset(preset).reference_params()
    return next(name for name in PRESETS if PRESETS[name].reference_params() == wanted)


def build(  # type: ignore[no-untyped-def]
    corpus, seed: int, per_song: int, per_unseen: int, conditions: list[str] | None = None
) -> list[dict]:
    """Every clip of the plan (deterministic in ``seed``), or of some of its conditions."""
    sample_rate = corpus.sample_rate
    clips = []
    sets = [("reference", corpus.reference, per_song), ("unseen", corpus.unseen, per_unseen)]
    for condition, lengths in PLAN.items():
        if conditions and condition not in conditions:
            continue
        channel = laptop_mic(5.0 if condition == "speed-1.0" else 10.0)
        for source, songs, repeats in sets:
            for song_index, (name, samples) in enumerate(songs.items()):
                for seconds in lengths:
                    for repetition in range(repeats):
                        entropy = [seed, CONDITION_IDS[condition], source == "unseen"]
                        entropy += [song_index, round(seconds * 1000), repetition]
                        rng = np.random.default_rng(np.random.SeedSequence(entropy))
                        change = draw_change(condition, rng)
                        need = math.ceil(seconds * max(change, 1.0) * sample_rate) + 1
                        margin = 10 * sample_rate
                        start = int(rng.integers(margin, len(samples) - need - margin))
                        clip = make_clip(samples, sample_rate, start, seconds, condition, change)
                        clip = channel.apply(clip, sample_rate, int(rng.integers(2**31)))
                        clips.append(
                            {
                                "clip": clip,
                                "source": source,
                                "condition": condition,
                                "seconds": seconds,
                                "truth": name if source == "reference" else None,
                                "start_s": start / sample_rate,
                                "change": change,
                            }
                        )
    return clips


def evaluate(djv, clips: list[dict], sample_rate: int, progress: bool) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """One row per clip."""
    rows = []
    for clip in tqdm(clips, desc="recognising", unit="clip", disable=not progress):
        result = djv.match_samples(clip["clip"], sample_rate)
        truth = clip["truth"]
        correct = result.is_match and result.song_name == truth
        offset_ok = bool(
            correct
            and result.offset_seconds is not None
            and abs(result.offset_seconds - clip["start_s"]) <= OFFSET_TOLERANCE_S
        )
        rows.append(
            {
                "source": clip["source"],
                "condition": clip["condition"],
                "seconds": clip["seconds"],
                "truth": truth,
                "start_s": clip["start_s"],
                "change": clip["change"],
                "answer": result.song_name,
                "offset_s": result.offset_seconds,
                "speed": result.speed,
                "pitch_semitones": result.pitch_semitones,
                "confidence": result.confidence,
                "decided_by": result.decided_by,
                "aligned_hashes": result.aligned_hashes,
                "input_hashes": result.input_hashes,
                "correct": bool(correct),
                "offset_correct": offset_ok,
                "false_match": bool(truth is None and result.is_match),
                "match_ms": result.match_time_s * 1e3,
            }
        )
    return pd.DataFrame(rows)


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """:func:`summarize_accuracy` plus the median error of the estimated change."""
    table = summarize_accuracy(rows)
    right = rows[rows.correct].copy()
    estimate = np.where(right.condition == "pitch", right.pitch_semitones, right.speed)
    right["change_error"] = np.abs(estimate - right.change)
    right.loc[right.condition == "stretch", "change_error"] = np.nan
    errors = right.groupby(["condition", "seconds"]).change_error.median()
    table["median_change_error"] = [
        errors.get((c, s), np.nan) for c, s in zip(table.condition, table.seconds, strict=True)
    ]
    return table


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--per-song", type=int, default=1, help="clips per track, condition, length")
    p.add_argument("--per-unseen", type=int, default=4, help="clips per unseen track")
    p.add_argument("--conditions", nargs="+", choices=list(PLAN), default=None, help="default: all")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=BASE:PARAMS",
        help="also run preset BASE with these parameters (param=value,...) under NAME",
    )
    p.set_defaults(presets=["default", "speed", "invariant"])
    args = p.parse_args()
    for spec in args.variant:
        name, base, params = register_variant(spec)
        if name not in args.presets:
            args.presets.append(name)
        print(f"variant {name}: {base} with {params}", flush=True)
    corpus, folder = load_corpus(args), output_dir(args)
    started = time.perf_counter()
    clips = build(corpus, args.seed, args.per_song, args.per_unseen, args.conditions)
    print(f"{len(clips)} clips built in {time.perf_counter() - started:.0f} s", flush=True)
    tables = []
    for preset in args.presets:
        djv, _ = database(args, corpus, database_preset(preset))
        djv.pipeline = get_preset(preset)
        rows = evaluate(djv, clips, corpus.sample_rate, not args.quiet)
        rows.insert(0, "preset", preset)
        name = f"speed_robust_{preset}_seed{args.seed}"
        if args.conditions:
            name += "_" + "-".join(args.conditions)
        params = {**djv.pipeline.get_params(), "seed": args.seed, "plan": PLAN}
        save(rows, folder, f"{name}_clips", corpus, params)
        table = summarize(rows)
        table.insert(0, "preset", preset)
        save(table, folder, name, corpus, params)
        tables.append(table)
        djv.close()
    both = pd.concat(tables, ignore_index=True)
    print(both.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
