"""Recording from an input device: an open stream of fixed-length blocks, or one take.

Audio comes back as float32 mono in [-1, 1] at the sample rate asked for. The
device is opened at that rate when PortAudio says it can; otherwise at the
device's native rate, and the samples are resampled with soxr.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import MicrophoneError
from .devices import (
    DEFAULT_SAMPLE_RATE,
    DeviceSpec,
    InputDevice,
    _check,
    _check_channels,
    _PortAudioSession,
)
from .levels import SILENCE_FLOOR_DBFS, rms_dbfs
from .portaudio import _portaudio_stderr_silenced

logger = logging.getLogger(__name__)

_FRAMES_PER_BUFFER = 1024
_FULL_SCALE_INT16 = 32768.0


def _frames(seconds: float, sample_rate: int) -> int:
    return max(1, round(seconds * sample_rate))


class MicrophoneStream:
    """An open input stream that hands out fixed-length blocks of samples.

    Use it as a context manager. Reading blocks until enough audio has arrived;
    input overflows (the caller read too slowly) are tolerated, losing samples
    rather than raising.

    Parameters
    ----------
    device : int, str or None
        As in :func:`~dejavu_lab.live.devices.resolve_device`; ``None`` is the default
        input device.
    sample_rate : int
        Rate of the returned samples, in Hz (1000 to 768000).
    channels : int
        Channels to capture; they are averaged to mono.
    chunk_seconds : float
        Length of each block yielded by iteration, in seconds.
    frames_per_buffer : int
        PortAudio buffer size, in frames at the capture rate.

    Attributes
    ----------
    device : InputDevice
        The device being recorded (set once open).
    capture_rate : int
        Rate the device was opened at, in Hz; differs from ``sample_rate`` when
        the device refused it and soxr resamples.

    Examples
    --------
    >>> with MicrophoneStream(sample_rate=44100) as mic:  # doctest: +SKIP
    ...     for chunk in mic:
    ...         print(f"{mic.level_db:6.1f} dBFS", chunk.shape)
    """

    def __init__(
        self,
        device: DeviceSpec = None,
        *,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        channels: int = 1,
        chunk_seconds: float = 0.5,
        frames_per_buffer: int = _FRAMES_PER_BUFFER,
    ) -> None:
        owner = type(self).__name__
        _check(owner, "sample_rate", sample_rate)
        _check(owner, "channels", channels)
        _check(owner, "chunk_seconds", chunk_seconds)
        _check(owner, "frames_per_buffer", frames_per_buffer)
        self._device_spec = device
        self.sample_rate = sample_rate
        self.channels = channels
        self.chunk_seconds = float(chunk_seconds)
        self.frames_per_buffer = frames_per_buffer
        self._session: _PortAudioSession | None = None
        self._stream: Any = None
        self._resampler: Any = None
        self._pending = np.zeros(0, dtype=np.float32)
        self._level_db = SILENCE_FLOOR_DBFS
        self.device: InputDevice | None = None
        self.capture_rate: int | None = None

    @property
    def is_open(self) -> bool:
        """Whether the input stream is open."""
        return self._stream is not None

    @property
    def level_db(self) -> float:
        """Level of the last block read, in dBFS (see :func:`~dejavu_lab.live.levels.rms_dbfs`)."""
        return self._level_db

    def open(self) -> MicrophoneStream:
        """Open the device and start capturing.

        Returns
        -------
        MicrophoneStream
            ``self``.

        Raises
        ------
        MicrophoneError
            PyAudio is missing, no device matches, or the device cannot be opened.
        """
        if self._stream is not None:
            return self
        session = _PortAudioSession()
        try:
            device = session.resolve(self._device_spec)
            _check_channels(device, self.channels)
            capture_rate = session.negotiate(device, self.sample_rate, self.channels)
            stream, capture_rate = self._open_stream(session, device, capture_rate)
        except BaseException:
            session.close()
            raise
        self._session = session
        self._stream = stream
        self.device = device
        self.capture_rate = capture_rate
        self._pending = np.zeros(0, dtype=np.float32)
        if self.capture_rate != self.sample_rate:
            import soxr

            self._resampler = soxr.ResampleStream(
                self.capture_rate, self.sample_rate, 1, dtype="float32"
            )
            logger.info(
                "recording [%d] %r at %d Hz, resampled to %d Hz",
                device.index,
                device.name,
                self.capture_rate,
                self.sample_rate,
            )
        else:
            logger.info(
                "recording [%d] %r at %d Hz",
                device.index,
                device.name,
                self.sample_rate,
            )
        return self

    def _open_stream(
        self, session: _PortAudioSession, device: InputDevice, rate: int
    ) -> tuple[Any, int]:
        rates = [rate] if rate == device.default_sample_rate else [rate, device.default_sample_rate]
        errors: list[str] = []
        for candidate in rates:
            with _portaudio_stderr_silenced():
                try:
                    stream = session.pa.open(
                        format=session.pyaudio.paInt16,
                        channels=self.channels,
                        rate=candidate,
                        input=True,
                        input_device_index=device.index,
                        frames_per_buffer=self.frames_per_buffer,
                    )
                    return stream, candidate
                except (OSError, ValueError) as exc:
                    # is_format_supported can say yes to a rate that open then refuses.
                    errors.append(f"{candidate} Hz: {exc}")
        raise MicrophoneError(
            f"cannot open input device [{device.index}] {device.name!r} "
            f"with {self.channels} channel(s): {'; '.join(errors)}"
        )

    def close(self) -> None:
        """Stop capturing and release the device. Safe to call twice."""
        stream, session = self._stream, self._session
        self._stream = None
        self._session = None
        self._resampler = None
        if stream is not None:
            with _portaudio_stderr_silenced():
                try:
                    stream.stop_stream()
                    stream.close()
                except OSError:
                    pass
        if session is not None:
            session.close()

    def __enter__(self) -> MicrophoneStream:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read_capture(self, n_frames: int) -> npt.NDArray[np.float32]:
        """Read ``n_frames`` frames at the capture rate, as mono float32."""
        # One huge read() takes about twice its duration with PortAudio's ALSA
        # backend (measured: 2 s of audio in 3.9 s); buffer-sized reads keep pace.
        pieces: list[bytes] = []
        try:
            for start in range(0, n_frames, self.frames_per_buffer):
                size = min(self.frames_per_buffer, n_frames - start)
                pieces.append(self._stream.read(size, exception_on_overflow=False))
        except OSError as exc:
            device = self.device
            name = f"[{device.index}] {device.name!r}" if device else "input device"
            raise MicrophoneError(f"reading from {name} failed: {exc}") from exc
        samples = np.frombuffer(b"".join(pieces), dtype=np.int16).astype(np.float32)
        samples /= _FULL_SCALE_INT16
        if self.channels > 1:
            samples = samples.reshape(-1, self.channels).mean(axis=1, dtype=np.float32)
        return samples

    def read_chunk(self, seconds: float = 0.5) -> npt.NDArray[np.float32]:
        """Block until the next ``seconds`` of audio have been recorded.

        Parameters
        ----------
        seconds : float
            Length of the block, in seconds.

        Returns
        -------
        ndarray, shape (round(seconds * sample_rate),), dtype float32
            Mono samples in [-1, 1] at ``sample_rate``, continuing exactly where
            the previous block ended.

        Raises
        ------
        MicrophoneError
            The stream is not open or the device failed.
        """
        _check("read_chunk", "seconds", seconds)
        if self._stream is None or self.capture_rate is None:
            raise MicrophoneError("the microphone stream is not open: use it in a with block")
        wanted = _frames(seconds, self.sample_rate)
        parts = [self._pending]
        have = self._pending.size
        while have < wanted:
            missing = wanted - have
            n_capture = max(1, math.ceil(missing * self.capture_rate / self.sample_rate))
            captured = self._read_capture(n_capture)
            if self._resampler is not None:
                captured = np.asarray(self._resampler.resample_chunk(captured), dtype=np.float32)
            parts.append(captured)
            have += captured.size
        joined = np.concatenate(parts)
        chunk, self._pending = joined[:wanted], joined[wanted:]
        self._level_db = rms_dbfs(chunk)
        return chunk

    def __iter__(self) -> Iterator[npt.NDArray[np.float32]]:
        """Yield successive blocks of ``chunk_seconds`` seconds, forever."""
        while True:
            yield self.read_chunk(self.chunk_seconds)


def record(
    seconds: float,
    *,
    device: DeviceSpec = None,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    channels: int = 1,
) -> tuple[npt.NDArray[np.float32], int]:
    """Record from a microphone, blocking until done.

    Parameters
    ----------
    seconds : float
        Duration to record, in seconds.
    device : int, str or None
        As in :func:`~dejavu_lab.live.devices.resolve_device`; ``None`` is the default
        input device.
    sample_rate : int
        Rate of the returned samples, in Hz.
    channels : int
        Channels to capture; they are averaged to mono.

    Returns
    -------
    samples : ndarray, shape (round(seconds * sample_rate),), dtype float32
        Mono samples in [-1, 1].
    sample_rate : int
        Their rate, in Hz (the one asked for).

    Raises
    ------
    MicrophoneError
        PyAudio is missing, there is no such input device, or it failed.
    ParameterError
        A parameter is out of range.
    """
    _check("record", "seconds", seconds)
    with MicrophoneStream(device, sample_rate=sample_rate, channels=channels) as stream:
        samples = stream.read_chunk(seconds)
    return samples, sample_rate
