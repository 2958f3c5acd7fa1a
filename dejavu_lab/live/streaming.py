"""Continuous recognition: the pipeline's online interface.

:class:`StreamingRecognizer` takes audio as it arrives, in chunks of any
length, keeps the last ``window_s`` seconds in a ring buffer at the pipeline's
sample rate, and every ``step_s`` seconds of new audio recognises the whole
buffer with :meth:`Dejavu.match_samples <dejavu_lab.dejavu.Dejavu.match_samples>`
(the same stages and the same no-match rule as a file query). It answers as
soon as the answer is confirmed.

**Confirmation.** A step *agrees* with the one before when both are matches
under the no-match rule, name the same song, and put the listening
start at the same place in it (within :data:`OFFSET_TOLERANCE_S`, or two
frames if a frame is longer). An answer is confirmed when ``confirmations``
consecutive steps agree (default 2). A single step's false-match rate is set
by the no-match rule (``verifier__min_z``: in calibration, about one query in
a thousand of unseen music), but continuous listening runs a query every
step, so a 30 s session
makes 60 of them; requiring a second, independent-looking step to land on the
same song *and* the same alignment costs ``step_s`` of latency and makes a
chance match vanishingly rare. ``confirmations=1`` answers at the first match.

**Offsets.** Every offset reported (``offset_seconds`` and the candidates')
is where the *listening start* falls in the song: the song position of the
first sample given since construction or :meth:`~StreamingRecognizer.reset`.
It is the same at every step of a continuous listen, which is what makes
steps comparable, and it is what a recording started at the same moment would
report. Where the song is *now* is ``offset_seconds + heard_seconds``
(:attr:`StreamUpdate.song_position_s`). Music that starts after listening
began gives an offset that is negative, or smaller than where the music
started, by the silent lead-in.

The whole window is fingerprinted again at every step: simple, and exactly
what a file query of the same audio gives; how fast a step is
(``benchmarks/bench_listen.py``): ``docs/live.md``.

Examples
--------
>>> import numpy as np
>>> from dejavu_lab import Dejavu
>>> from dejavu_lab.live.streaming import StreamingRecognizer
>>> djv = Dejavu({"database": ":memory:"})
>>> stream = StreamingRecognizer(djv, window_s=4.0, step_s=0.5)
>>> stream.process_chunk(np.zeros(stream.sample_rate, np.float32)) is None  # silence
True
>>> stream.heard_seconds, stream.last_update.recognition.is_match
(1.0, False)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..core.params import Constraint
from ..exceptions import ParameterError

if TYPE_CHECKING:
    from ..dejavu import Dejavu, Recognition

DEFAULT_WINDOW_S = 6.0
"""Audio recognised at each step, in seconds (Dejavu's study reached 100 % at 5 s)."""

DEFAULT_STEP_S = 0.5
"""New audio between two recognition steps, in seconds."""

DEFAULT_CONFIRMATIONS = 2
"""Consecutive agreeing steps needed before answering."""

OFFSET_TOLERANCE_S = 0.1
"""Two steps agree on the alignment when their offsets differ by at most this (s)."""

_CONSTRAINTS: Mapping[str, Constraint] = {
    "window_s": Constraint(float, low=0.5, high=600.0),
    "step_s": Constraint(float, low=0.05, high=600.0),
    "confirmations": Constraint(int, low=1, high=100),
    "sample_rate": Constraint(int, low=1000, high=768_000, allow_none=True),
    "top_k": Constraint(int, low=1, high=1000, allow_none=True),
}


def _check(name: str, value: object) -> None:
    constraint = _CONSTRAINTS[name]
    if not constraint.accepts(value):
        raise ParameterError(
            f"StreamingRecognizer: {name}={value!r} is not allowed: "
            f"expected {constraint.describe()}"
        )


@dataclass(frozen=True)
class StreamUpdate:
    """What one recognition step saw (for status lines and level meters).

    Attributes
    ----------
    heard_seconds : float
        Audio received since the listening start, in seconds.
    window_seconds : float
        Audio in the window that was recognised, in seconds.
    level_dbfs : float
        RMS level of the newest ``step_s`` of audio, in dBFS.
    recognition : Recognition
        This step's answer, offsets relative to the listening start; it may be
        a match that is not confirmed yet.
    agreeing_steps : int
        Consecutive steps, this one included, that agree on song and offset
        (0 when this step is no match).
    confirmed : bool
        Whether ``agreeing_steps`` reached the required confirmations.
    """

    heard_seconds: float
    window_seconds: float
    level_dbfs: float
    recognition: Recognition
    agreeing_steps: int
    confirmed: bool

    @property
    def song_position_s(self) -> float | None:
        """Where the song is at the end of the audio heard (s), or None without a match."""
        offset = self.recognition.offset_seconds
        return None if offset is None else offset + self.heard_seconds


def shift_offsets(recognition: Recognition, seconds: float) -> Recognition:
    """The same answer with every offset moved by ``seconds``.

    Parameters
    ----------
    recognition : Recognition
    seconds : float
        Added to ``offset_seconds`` and to each candidate's offset (s).

    Returns
    -------
    Recognition
    """
    candidates = [
        {**candidate, "offset_seconds": round(candidate["offset_seconds"] + seconds, 3)}
        for candidate in recognition.candidates
    ]
    offset = recognition.offset_seconds
    return dataclasses.replace(
        recognition,
        offset_seconds=None if offset is None else round(offset + seconds, 3),
        candidates=candidates,
    )


def as_no_match(recognition: Recognition) -> Recognition:
    """The same evidence with the song withdrawn: an unconfirmed match is no answer."""
    return dataclasses.replace(recognition, song_id=None, song_name=None, offset_seconds=None)


class StreamingRecognizer:
    """Recognise a continuous stream of audio, answering once confident.

    Parameters
    ----------
    dejavu : Dejavu
        Whose pipeline and database recognise the audio.
    window_s : float
        Audio kept and recognised at each step, in seconds (0.5 to 600). The
        most recent ``window_s`` seconds are kept; older audio is forgotten.
    step_s : float
        New audio between recognition steps, in seconds (0.05 to 600, at most
        ``window_s``).
    confirmations : int
        Consecutive agreeing steps before answering (see the module docstring).
    sample_rate : int, optional
        Rate of the samples given to :meth:`process_chunk`, in Hz; default the
        pipeline's rate. Other rates are resampled as a stream (soxr), so
        chunk boundaries leave no seams.
    top_k : int, optional
        Candidates kept in each answer (default the matcher's ``top_k``).

    Attributes
    ----------
    last_update : StreamUpdate or None
        The latest step, confirmed or not; None before the first step.

    Raises
    ------
    ParameterError
        A parameter is out of range, or ``step_s > window_s``.

    Notes
    -----
    A step runs when the audio received crosses a multiple of ``step_s``. A
    chunk spanning several such boundaries triggers one step, on the newest
    window. :meth:`finish` recognises audio left after the last step.
    """

    def __init__(
        self,
        dejavu: Dejavu,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        step_s: float = DEFAULT_STEP_S,
        confirmations: int = DEFAULT_CONFIRMATIONS,
        sample_rate: int | None = None,
        top_k: int | None = None,
    ) -> None:
        for name, value in (
            ("window_s", window_s),
            ("step_s", step_s),
            ("confirmations", confirmations),
            ("sample_rate", sample_rate),
            ("top_k", top_k),
        ):
            _check(name, value)
        if step_s > window_s:
            raise ParameterError(
                f"StreamingRecognizer: step_s={step_s!r} is not allowed: "
                f"expected at most window_s={window_s!r}"
            )
        self.dejavu = dejavu
        self.sample_rate: int = dejavu.pipeline.spectrogram.sample_rate
        self.input_rate: int = self.sample_rate if sample_rate is None else sample_rate
        self.window_s = float(window_s)
        self.step_s = float(step_s)
        self.confirmations = confirmations
        self.top_k = top_k
        frame_s = dejavu.pipeline.spectrogram.frame_seconds
        self.offset_tolerance_s = max(OFFSET_TOLERANCE_S, 2 * frame_s)
        self._window_samples = round(self.window_s * self.sample_rate)
        self._step_samples = max(1, round(self.step_s * self.sample_rate))
        self._ring = np.zeros(self._window_samples, dtype=np.float32)
        self._write = 0
        self._received = 0
        self._steps_crossed = 0
        self._evaluated_at = 0
        self._streak = 0
        self._resampler: Any = None
        self.last_update: StreamUpdate | None = None
        self.reset()

    # -- state ----------------------------------------------------------------

    def reset(self) -> None:
        """Forget all audio and every answer: the next sample is a new listening start."""
        self._ring[:] = 0.0
        self._write = 0
        self._received = 0
        self._steps_crossed = 0
        self._evaluated_at = 0
        self._streak = 0
        self.last_update = None
        self._resampler = None
        if self.input_rate != self.sample_rate:
            import soxr

            self._resampler = soxr.ResampleStream(
                self.input_rate, self.sample_rate, 1, dtype="float32"
            )

    @property
    def heard_seconds(self) -> float:
        """Audio received since the listening start, in seconds.

        Counted at the pipeline's rate after resampling, so with another input
        rate it trails the audio given by the resampler's look-ahead (~20 ms).
        """
        return self._received / self.sample_rate

    @property
    def buffered_seconds(self) -> float:
        """Audio currently held in the window, in seconds."""
        return min(self._received, self._window_samples) / self.sample_rate

    def buffer(self) -> npt.NDArray[np.float32]:
        """The audio in the window, oldest first.

        Returns
        -------
        ndarray, shape (n,), float32
            ``n = min(received, window)`` samples at :attr:`sample_rate`.
        """
        if self._received < self._window_samples:
            return self._ring[: self._received].copy()
        return np.concatenate((self._ring[self._write :], self._ring[: self._write]))

    def step_boundary(self, step: int) -> int:
        """Samples received when step number ``step`` (1, 2, ...) is due.

        ``round(step * step_s * sample_rate)``: exact multiples of ``step_s``
        even when one step is not a whole number of samples.
        """
        return round(step * self.step_s * self.sample_rate)

    # -- streaming ------------------------------------------------------------

    def _append(self, samples: npt.NDArray[np.float32]) -> None:
        size, window = samples.size, self._window_samples
        if size >= window:
            self._ring[:] = samples[-window:]
            self._write = 0
        else:
            first = min(size, window - self._write)
            self._ring[self._write : self._write + first] = samples[:first]
            self._ring[: size - first] = samples[first:]
            self._write = (self._write + size) % window
        self._received += size

    def process_chunk(self, samples: npt.ArrayLike) -> Recognition | None:
        """Take the next chunk of audio; recognise if a step boundary was crossed.

        Parameters
        ----------
        samples : array_like, shape (n,)
            Mono samples in [-1, 1] at ``sample_rate``, continuing the previous
            chunk. Any length, including 0.

        Returns
        -------
        Recognition or None
            The confirmed answer (offsets relative to the listening start) when
            this chunk completed a step that confirmed it, else None. Once
            confirmed, every later agreeing step answers again.

        Raises
        ------
        ParameterError
            ``samples`` is not one-dimensional.
        """
        chunk = np.asarray(samples, dtype=np.float32)
        if chunk.ndim != 1:
            raise ParameterError(
                f"process_chunk: samples of shape {chunk.shape} are not allowed: "
                "expected mono samples, shape (n,)"
            )
        if self._resampler is not None:
            chunk = np.asarray(self._resampler.resample_chunk(chunk), dtype=np.float32)
        self._append(chunk)
        if self._received < self.step_boundary(self._steps_crossed + 1):
            return None
        while self._received >= self.step_boundary(self._steps_crossed + 1):
            self._steps_crossed += 1
        update = self._step()
        return update.recognition if update.confirmed else None

    def finish(self) -> Recognition:
        """Recognise what came after the last step and give the final answer.

        Returns
        -------
        Recognition
            The confirmed answer, or "no match" (``song_id`` None) carrying the
            last step's evidence (confidence, aligned hashes, candidates).
        """
        if self._received > self._evaluated_at or self.last_update is None:
            self._step()
        assert self.last_update is not None
        update = self.last_update
        return update.recognition if update.confirmed else as_no_match(update.recognition)

    def _step(self) -> StreamUpdate:
        from .levels import rms_dbfs

        window = self.buffer()
        window_start_s = (self._received - window.size) / self.sample_rate
        raw = self.dejavu.match_samples(window, top_k=self.top_k)
        recognition = shift_offsets(raw, -window_start_s)
        previous = self.last_update
        if not recognition.is_match:
            self._streak = 0
        elif previous is not None and self._agrees(previous.recognition, recognition):
            self._streak += 1
        else:
            self._streak = 1
        self._evaluated_at = self._received
        newest = window[-self._step_samples :]
        update = StreamUpdate(
            heard_seconds=self.heard_seconds,
            window_seconds=window.size / self.sample_rate,
            level_dbfs=rms_dbfs(newest),
            recognition=recognition,
            agreeing_steps=self._streak,
            confirmed=self._streak >= self.confirmations,
        )
        self.last_update = update
        return update

    def _agrees(self, before: Recognition, now: Recognition) -> bool:
        if not (before.is_match and now.is_match) or before.song_id != now.song_id:
            return False
        assert before.offset_seconds is not None and now.offset_seconds is not None
        return abs(before.offset_seconds - now.offset_seconds) <= self.offset_tolerance_s
