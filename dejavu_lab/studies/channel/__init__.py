"""Composable, seeded degradations: what a laptop microphone hears of a song.

A clean excerpt (float32 mono, values in [-1, 1]) goes through a chain of
stages — loudspeaker band limits, a room, people talking, the microphone, a
lossy codec — and comes out as a query a fingerprinter has to recognise.

Each stage is a frozen keyword-only dataclass holding its parameters in
physical units (Hz, seconds, dB, kbit/s), validated at construction, with one
method ``apply(samples, sample_rate, rng)`` that returns a float32 array of the
same length at the same sample rate. The maths lives in plain functions beside
each stage. A :class:`~.chain.Channel` applies stages in order and gives each
one its own random generator derived from one seed, so the same input and seed
always give the same output, and appending a stage does not change what the
earlier stages do. :data:`~.conditions.CONDITIONS` names the channels used in
experiments. Every name below imports from this package:

- :mod:`.transducers`: loudspeaker and microphone band limits, gain, clipping;
- :mod:`.room`: synthetic and measured impulse responses, :class:`~.room.Reverb`;
- :mod:`.noise`: white, pink and hummed noise at an SNR, :class:`~.noise.Noise`;
- :mod:`.babble`: people talking (espeak-ng voices or synthetic talkers);
- :mod:`.codec`: the MP3 round trip, :class:`~.codec.Mp3`;
- :mod:`.playback`: varispeed, pitch shift, time stretch, fixed or drawn per clip;
- :mod:`.chain`: :class:`~.chain.Channel`, the seeded chain of stages;
- :mod:`.conditions`: the named channels.

Examples
--------
>>> import numpy as np
>>> from dejavu_lab.studies.channel import get_condition
>>> sr = 8000
>>> tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)).astype(np.float32)
>>> heard = get_condition("laptop-mic").apply(tone, sr, 7)
>>> heard.shape, heard.dtype
((8000,), dtype('float32'))
"""

from __future__ import annotations

# A name imported ``as`` itself was public but never in __all__: it still imports from here.
from ._samples import Float32Array as Float32Array
from ._samples import FloatArray as FloatArray
from .babble import ESPEAK_EXECUTABLE as ESPEAK_EXECUTABLE
from .babble import babble_noise, babble_source, synthetic_babble
from .chain import Channel, Degradation, SeedLike
from .codec import Mp3, mp3_round_trip
from .conditions import CONDITIONS, get_condition, laptop_mic
from .noise import NOISE_KINDS as NOISE_KINDS
from .noise import Noise, hum_noise, mix_at_snr, pink_noise, white_noise
from .playback import PitchShift as PitchShift
from .playback import RandomPitchShift as RandomPitchShift
from .playback import RandomSpeed as RandomSpeed
from .playback import RandomTimeStretch as RandomTimeStretch
from .playback import (
    Speed,
    change_speed,
    draw_change,
    pitch_shift,
    time_stretch,
)
from .playback import TimeStretch as TimeStretch
from .room import Reverb, convolve_ir, load_room_ir, synthetic_room_ir
from .transducers import BandLimit, Clip, Gain, band_limit

__all__ = [
    "CONDITIONS",
    "BandLimit",
    "Channel",
    "Clip",
    "Degradation",
    "Gain",
    "Mp3",
    "Noise",
    "Reverb",
    "SeedLike",
    "Speed",
    "babble_noise",
    "babble_source",
    "band_limit",
    "change_speed",
    "convolve_ir",
    "draw_change",
    "get_condition",
    "hum_noise",
    "laptop_mic",
    "load_room_ir",
    "mix_at_snr",
    "mp3_round_trip",
    "pink_noise",
    "pitch_shift",
    "synthetic_babble",
    "synthetic_room_ir",
    "time_stretch",
    "white_noise",
]
