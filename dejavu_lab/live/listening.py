"""Recognition from a microphone: record then match, or listen continuously.

Three ways in, all through the real PyAudio API (:mod:`dejavu_lab.live.microphone`):

- :class:`MicrophoneRecognizer`, Dejavu's interface:
  ``djv.recognize(MicrophoneRecognizer, seconds=10)`` records, then recognises;
- :func:`record_and_match`, the same returning a
  :class:`~dejavu_lab.dejavu.Recognition` (``dejavu-lab recognize --mic``);
- :func:`listen`, which streams the microphone through a
  :class:`~dejavu_lab.live.streaming.StreamingRecognizer` and answers as soon as it
  is confident (``dejavu-lab listen``).

Audio is recorded at the pipeline's sample rate; a device that refuses that
rate is opened at its native rate and resampled (see
:mod:`dejavu_lab.live.microphone`). A device is named by its PortAudio index or by
(part of) its name; a string of digits, as typed on a command line, is an
index. A missing PyAudio/PortAudio, no input device or an unknown one raise
:class:`~dejavu_lab.exceptions.MicrophoneError` naming what to install or the
devices available.

Offsets are where the recording (or the listening) *started* in the song.

Examples
--------
>>> from dejavu_lab import Dejavu
>>> from dejavu_lab.live.listening import MicrophoneRecognizer, listen
>>> djv = Dejavu({"database": "fingerprints.duckdb"})  # doctest: +SKIP
>>> djv.recognize(MicrophoneRecognizer, seconds=5)  # doctest: +SKIP
{'song_id': 3, 'song_name': 'synth_003', 'offset_seconds': 12.48, ..., 'record_time_s': 5.1}
>>> listen(djv, max_seconds=20).song_name  # doctest: +SKIP
'synth_003'
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.params import Constraint
from ..dejavu import BaseRecognizer
from ..exceptions import ParameterError
from .devices import DeviceSpec
from .recording import MicrophoneStream, record
from .streaming import (
    DEFAULT_CONFIRMATIONS,
    DEFAULT_STEP_S,
    DEFAULT_WINDOW_S,
    StreamingRecognizer,
    StreamUpdate,
)

if TYPE_CHECKING:
    from ..dejavu import Dejavu, Recognition

__all__ = [
    "MicrophoneRecognizer",
    "format_answer",
    "format_update",
    "listen",
    "parse_device",
    "record_and_match",
]

DEFAULT_RECORD_SECONDS = 10.0
"""Recording length of :class:`MicrophoneRecognizer` (Dejavu's default), in seconds."""

DEFAULT_MAX_SECONDS = 30.0
"""How long :func:`listen` listens before answering "no match", in seconds."""

_MAX_SECONDS = Constraint(float, low=0.05, high=24 * 3600)
_SHORTEST_READ_S = 1e-3


def parse_device(device: DeviceSpec) -> DeviceSpec:
    """A device as given by a user: a string of digits becomes an index.

    Parameters
    ----------
    device : int, str or None
        Index, (part of a) name, or None for the default input device.

    Returns
    -------
    int, str or None
    """
    if isinstance(device, str) and device.strip().isdigit():
        return int(device.strip())
    return device


def _record(dejavu: Dejavu, seconds: float, device: DeviceSpec) -> tuple[np.ndarray, int, float]:
    rate = dejavu.pipeline.spectrogram.sample_rate
    start = time.perf_counter()
    samples, rate = record(seconds, device=parse_device(device), sample_rate=rate)
    return samples, rate, time.perf_counter() - start


class MicrophoneRecognizer(BaseRecognizer):
    """Record from a microphone, then recognise: Dejavu's ``MicrophoneRecognizer``.

    ``djv.recognize(MicrophoneRecognizer, seconds=10, device=None)``.

    Attributes
    ----------
    last_recording : ndarray or None
        The samples of the last recording, float32 mono at
        :attr:`sample_rate` (to listen to, or to check an offset).
    sample_rate : int
        The pipeline's rate, at which recordings are made, in Hz.
    """

    def __init__(self, dejavu: Dejavu) -> None:
        super().__init__(dejavu)
        self.sample_rate: int = dejavu.pipeline.spectrogram.sample_rate
        self.last_recording: np.ndarray | None = None

    def recognize(  # type: ignore[override]
        self,
        seconds: float = DEFAULT_RECORD_SECONDS,
        *,
        device: DeviceSpec = None,
        top_k: int | None = None,
    ) -> dict[str, Any]:
        """Record ``seconds`` of audio and recognise it.

        Parameters
        ----------
        seconds : float
            Recording length, in seconds.
        device : int, str or None
            Input device (see :func:`dejavu_lab.live.devices.resolve_device`).
        top_k : int, optional
            Candidates to keep.

        Returns
        -------
        dict
            :meth:`Recognition.to_dict <dejavu_lab.dejavu.Recognition.to_dict>`
            (what ``FileRecognizer`` returns; ``offset_seconds`` is where the
            recording started in the song) plus ``record_time_s``: wall-clock
            seconds spent opening the device and recording (``query_seconds``
            is the length of the audio itself).

        Raises
        ------
        MicrophoneError
            PyAudio/PortAudio is missing, or no such input device.
        """
        samples, rate, record_time = _record(self.dejavu, seconds, device)
        self.last_recording = samples
        answer = self.dejavu.match_samples(samples, rate, top_k=top_k).to_dict()
        answer["record_time_s"] = record_time
        return answer


def record_and_match(dejavu: Dejavu, *, seconds: float, device: DeviceSpec = None) -> Recognition:
    """Record ``seconds`` from a microphone and recognise them.

    Parameters
    ----------
    dejavu : Dejavu
    seconds : float
        Recording length, in seconds.
    device : int, str or None
        Input device; a string of digits is an index.

    Returns
    -------
    Recognition
        ``offset_seconds`` is where the recording started in the song.

    Raises
    ------
    MicrophoneError
        PyAudio/PortAudio is missing, or no such input device.
    """
    samples, rate, _ = _record(dejavu, seconds, device)
    return dejavu.match_samples(samples, rate)


def listen(
    dejavu: Dejavu,
    *,
    device: DeviceSpec = None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    window_s: float = DEFAULT_WINDOW_S,
    step_s: float = DEFAULT_STEP_S,
    confirmations: int = DEFAULT_CONFIRMATIONS,
    on_result: Callable[[StreamUpdate], None] | None = None,
) -> Recognition:
    """Listen to a microphone until the song is recognised, or give up.

    Audio streams from the device in ``step_s`` chunks through a
    :class:`~dejavu_lab.live.streaming.StreamingRecognizer`.

    Parameters
    ----------
    dejavu : Dejavu
    device : int, str or None
        Input device; a string of digits is an index.
    max_seconds : float
        Audio to listen to at most before answering "no match", in seconds.
    window_s, step_s, confirmations
        See :class:`~dejavu_lab.live.streaming.StreamingRecognizer`.
    on_result : callable, optional
        Called with the :class:`~dejavu_lab.live.streaming.StreamUpdate` of every
        step, confirmed or not (for status lines and level meters).

    Returns
    -------
    Recognition
        The first confirmed answer, ``offset_seconds`` being where the
        listening started in the song; or "no match" (``song_id`` None) after
        ``max_seconds``, carrying the last step's evidence.

    Raises
    ------
    MicrophoneError
        PyAudio/PortAudio is missing, or no such input device.
    ParameterError
        A parameter is out of range.
    """
    if not _MAX_SECONDS.accepts(max_seconds):
        raise ParameterError(
            f"listen: max_seconds={max_seconds!r} is not allowed: "
            f"expected {_MAX_SECONDS.describe()}"
        )
    streamer = StreamingRecognizer(
        dejavu, window_s=window_s, step_s=step_s, confirmations=confirmations
    )
    rate = streamer.sample_rate
    total = round(max_seconds * rate)
    shortest = math.ceil(_SHORTEST_READ_S * rate)  # read_chunk's minimum
    with MicrophoneStream(parse_device(device), sample_rate=rate, chunk_seconds=step_s) as mic:
        received, step = 0, 1
        while total - received >= shortest:
            # Read up to the next step boundary, so each read completes one step.
            size = min(streamer.step_boundary(step), total) - received
            step += 1
            if size < shortest:
                continue
            chunk = mic.read_chunk(size / rate)
            received += chunk.size
            before = streamer.last_update
            answer = streamer.process_chunk(chunk)
            update = streamer.last_update
            if on_result is not None and update is not None and update is not before:
                on_result(update)
            if answer is not None:
                return answer
    before = streamer.last_update
    final = streamer.finish()
    if on_result is not None and streamer.last_update is not before:
        assert streamer.last_update is not None
        on_result(streamer.last_update)
    return final


# -- command line -------------------------------------------------------------


def format_update(update: StreamUpdate, confirmations: int = DEFAULT_CONFIRMATIONS) -> str:
    """One status line for a listening step, e.g. for a terminal.

    Parameters
    ----------
    update : StreamUpdate
    confirmations : int
        Agreeing steps needed, to show progress towards them.

    Returns
    -------
    str
    """
    rec = update.recognition
    head = f"{update.heard_seconds:5.1f} s  {update.level_dbfs:6.1f} dBFS  "
    if rec.is_match:
        state = "confirmed" if update.confirmed else "checking"
        return (
            f"{head}{rec.song_name} at {rec.offset_seconds:.2f} s, confidence "
            f"{rec.confidence:.1f} ({state}: {update.agreeing_steps}/{confirmations} steps agree)"
        )
    return (
        f"{head}listening... (best bin {rec.aligned_hashes} of {rec.input_hashes} hashes, "
        f"confidence {rec.confidence:.1f})"
    )


def format_answer(recognition: Recognition, heard_seconds: float) -> str:
    """The final answer of a listen, in one line."""
    if recognition.is_match:
        return (
            f"{recognition.song_name}  (song {recognition.song_id}): listening started at "
            f"{recognition.offset_seconds:.2f} s into it; confidence {recognition.confidence:.1f}, "
            f"{recognition.aligned_hashes}/{recognition.input_hashes} hashes aligned; "
            f"answered after {heard_seconds:.1f} s of audio"
        )
    return (
        f"no match after {heard_seconds:.1f} s of audio (best bin {recognition.aligned_hashes} "
        f"of {recognition.input_hashes} hashes, confidence {recognition.confidence:.1f})"
    )
