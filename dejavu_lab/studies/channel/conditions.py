"""The named channels of the experiments (``CONDITIONS``) and the laptop microphone's stages."""

from __future__ import annotations

import math

from ...exceptions import ParameterError
from .chain import Channel, Degradation
from .codec import Mp3
from .noise import Noise
from .playback import RandomPitchShift, RandomSpeed, RandomTimeStretch, Speed
from .room import Reverb
from .transducers import BandLimit, Clip, Gain

# Noisy pub: pink noise and babble each at half the music power, i.e. a
# music-to-total-noise ratio of 0 dB. The babble SNR is relative to music +
# pink noise (1.5x the music power), hence 10 log10(1.5 / 0.5).
_PUB_PINK_SNR_DB = 10.0 * math.log10(2.0)
_PUB_BABBLE_SNR_DB = 10.0 * math.log10(1.5 / 0.5)

_LAPTOP_SPEAKERS = BandLimit(low_hz=150.0, high_hz=8000.0, order=4)
_LAPTOP_MIC = BandLimit(low_hz=100.0, high_hz=7000.0, order=4)


def laptop_mic(snr_db: float = 5.0) -> tuple[Degradation, ...]:
    """The stages of the ``laptop-mic`` channel with its babble at ``snr_db`` (dB).

    Speakers (150 Hz-8 kHz), a living room (RT60 0.4 s), six-talker babble,
    the microphone (100 Hz-7 kHz), -3 dB gain, clipping at full scale.
    """
    return (
        _LAPTOP_SPEAKERS,
        Reverb(rt60_s=0.4, direct_to_reverb_db=0.0),
        Noise(snr_db=snr_db, kind="babble"),
        _LAPTOP_MIC,
        Gain(db=-3.0),
        Clip(),
    )


CONDITIONS: dict[str, Channel] = {
    channel.name: channel
    for channel in (
        Channel(stages=(), name="clean"),
        Channel(name="laptop-mic", stages=laptop_mic(5.0)),
        Channel(name="laptop-mic-10db", stages=laptop_mic(10.0)),
        Channel(name="varispeed-laptop-mic", stages=(RandomSpeed(), *laptop_mic(10.0))),
        Channel(name="pitch-shift-laptop-mic", stages=(RandomPitchShift(), *laptop_mic(10.0))),
        Channel(name="time-stretch-laptop-mic", stages=(RandomTimeStretch(), *laptop_mic(10.0))),
        Channel(
            name="noisy-pub",
            stages=(
                BandLimit(low_hz=80.0, high_hz=12000.0, order=4),
                Reverb(rt60_s=0.6, direct_to_reverb_db=-3.0),
                Noise(snr_db=_PUB_PINK_SNR_DB, kind="pink"),
                Noise(snr_db=_PUB_BABBLE_SNR_DB, kind="babble", n_talkers=8),
                _LAPTOP_MIC,
                # Music plus as much noise is 3 dB louder: the recording level
                # is turned down so that it rarely clips.
                Gain(db=-6.0),
                Clip(),
            ),
        ),
        Channel(
            name="phone-speaker",
            stages=(
                Mp3(bitrate_kbps=64),
                BandLimit(low_hz=300.0, high_hz=3400.0, order=4),
                Reverb(rt60_s=0.3, direct_to_reverb_db=6.0),
                Noise(snr_db=10.0, kind="pink"),
                _LAPTOP_MIC,
                Clip(),
            ),
        ),
        Channel(name="mp3-64k", stages=(Mp3(bitrate_kbps=64),)),
        Channel(name="speed-2pct", stages=(Speed(factor=1.02),)),
    )
}
"""Named channels used in experiments.

clean
    Identity.
laptop-mic
    Laptop speakers (150 Hz-8 kHz) in a living room (RT60 0.4 s, direct =
    reverberant energy), six people talking (espeak-ng babble) at 5 dB SNR,
    laptop microphone (100 Hz-7 kHz), -3 dB gain, clipping at full scale.
laptop-mic-10db
    The same with the babble at 10 dB SNR.
varispeed-laptop-mic
    Played faster or slower (tempo and pitch together) by a factor drawn for
    each clip uniformly from 0.95-0.99 and 1.01-1.05, then ``laptop-mic-10db``.
pitch-shift-laptop-mic
    Pitch shifted by 0.5 to 1 semitone up or down (drawn for each clip) at
    unchanged tempo, then ``laptop-mic-10db``.
time-stretch-laptop-mic
    Tempo changed by a rate drawn for each clip from 0.95-1.05 at unchanged
    pitch, then ``laptop-mic-10db``.
noisy-pub
    Pub loudspeakers (80 Hz-12 kHz), reverberant room (RT60 0.6 s, reverberant
    3 dB above direct), pink noise and eight-talker babble each at half the
    music power (0 dB music-to-noise in total), laptop microphone, -6 dB
    gain, clipping.
phone-speaker
    Song streamed as 64 kbit/s MP3, played on a phone speaker (300 Hz-3.4 kHz)
    in a small room (RT60 0.3 s, direct 6 dB above reverberant), pink room
    noise at 10 dB SNR, laptop microphone, clipping.
mp3-64k
    64 kbit/s MP3 round trip only.
speed-2pct
    Played 2 % fast (tempo and pitch), like a misadjusted turntable or radio
    edit.
"""


def get_condition(name: str) -> Channel:
    """The channel of :data:`CONDITIONS` called ``name``.

    Raises
    ------
    ParameterError
        If there is no such condition; the message lists the valid names.
    """
    try:
        return CONDITIONS[name]
    except (KeyError, TypeError):
        raise ParameterError(
            f"unknown condition {name!r}: expected one of {', '.join(sorted(CONDITIONS))}"
        ) from None
