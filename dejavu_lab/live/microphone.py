"""Record from a microphone through PyAudio.

PyAudio is optional (the ``mic`` extra): it is imported only when a function
here needs it, and its absence raises :class:`~dejavu_lab.exceptions.MicrophoneError`
with the install command.

Audio comes back as float32 mono in [-1, 1] at the sample rate asked for. The
device is opened at that rate when PortAudio says it can; otherwise at the
device's native rate, and the samples are resampled with soxr.

PortAudio prints dozens of harmless ``ALSA lib ...`` and JACK lines on stderr
while it probes the sound system. They are discarded (file descriptor 2 points
at ``/dev/null`` while PortAudio starts, lists devices, opens and closes a
stream); set the environment variable ``DEJAVU_LAB_PORTAUDIO_STDERR=1`` to keep
them when debugging a device.

Examples
--------
>>> from dejavu_lab.live.microphone import record, list_input_devices
>>> list_input_devices()  # doctest: +SKIP
[InputDevice(index=0, name='pulse', max_input_channels=32, default_sample_rate=44100)]
>>> samples, sample_rate = record(5.0)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from ..core.params import Constraint
from ..exceptions import MicrophoneError, ParameterError

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 44100
"""Sample rate asked for when none is given, in Hz (Dejavu's rate)."""

SILENCE_FLOOR_DBFS = -120.0
"""Level reported by :func:`rms_dbfs` for digital silence, in dBFS."""

INSTALL_HINT = (
    "PyAudio is not installed: pip install 'dejavu-lab[mic]' "
    "(on Debian/Ubuntu run apt-get install portaudio19-dev first, "
    "since PyAudio builds against the PortAudio headers)"
)

_FRAMES_PER_BUFFER = 1024
_FULL_SCALE_INT16 = 32768.0
_SHOW_PORTAUDIO_STDERR_ENV = "DEJAVU_LAB_PORTAUDIO_STDERR"

_CONSTRAINTS: dict[str, Constraint] = {
    "seconds": Constraint(float, low=1e-3, high=24 * 3600),
    "sample_rate": Constraint(int, low=1000, high=768_000),
    "channels": Constraint(int, low=1, high=256),
    "chunk_seconds": Constraint(float, low=1e-3, high=3600),
    "frames_per_buffer": Constraint(int, low=16, high=1 << 16),
}

# fd 2 is process-wide: two threads swapping it at once could leave it on /dev/null.
_STDERR_LOCK = threading.RLock()

DeviceSpec = int | str | None
"""How a device is named: its PortAudio index, (part of) its name, or None for the default."""


@dataclass(frozen=True)
class InputDevice:
    """A PortAudio device that can record.

    Parameters
    ----------
    index : int
        PortAudio device index (valid for the current PortAudio session layout).
    name : str
        Device name as PortAudio reports it, e.g. ``"pulse"`` or ``"default"``.
    max_input_channels : int
        Largest number of input channels the device offers.
    default_sample_rate : int
        The device's native sample rate, in Hz.
    """

    index: int
    name: str
    max_input_channels: int
    default_sample_rate: int


def _check(owner: str, name: str, value: object) -> None:
    constraint = _CONSTRAINTS[name]
    if not constraint.accepts(value):
        raise ParameterError(
            f"{owner}: {name}={value!r} is not allowed: expected {constraint.describe()}"
        )


def _import_pyaudio() -> Any:
    try:
        import pyaudio
    except ImportError as exc:
        raise MicrophoneError(INSTALL_HINT) from exc
    return pyaudio


@contextlib.contextmanager
def _portaudio_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration of the block.

    Nothing may be logged inside the block: a stderr log handler writes to fd 2.
    """
    if os.environ.get(_SHOW_PORTAUDIO_STDERR_ENV, "") not in ("", "0"):
        yield
        return
    with _STDERR_LOCK:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            sys.stderr.flush()
        try:
            saved_fd = os.dup(2)
        except OSError:  # fd 2 is closed: nothing to protect
            saved_fd = -1
        if saved_fd < 0:
            yield
            return
        devnull_fd = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull_fd, 2)
            yield
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            os.close(devnull_fd)


class _PortAudioSession:
    """One ``pyaudio.PyAudio`` instance, created quietly and terminated on exit.

    PortAudio reads the sound-server settings (such as ``PULSE_SERVER``) from the
    environment when it starts, so every session sees the environment of the
    moment it is created.
    """

    def __init__(self) -> None:
        self.pyaudio = _import_pyaudio()
        with _portaudio_stderr_silenced():
            try:
                self.pa = self.pyaudio.PyAudio()
            except OSError as exc:  # Pa_Initialize failed
                failure: OSError | None = exc
            else:
                failure = None
        if failure is not None:
            raise MicrophoneError(f"PortAudio failed to start: {failure}") from failure

    def close(self) -> None:
        with _portaudio_stderr_silenced():
            self.pa.terminate()

    def __enter__(self) -> _PortAudioSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def input_devices(self) -> list[InputDevice]:
        with _portaudio_stderr_silenced():
            infos = [self.pa.get_device_info_by_index(i) for i in range(self.pa.get_device_count())]
        return [
            InputDevice(
                index=int(info["index"]),
                name=str(info["name"]),
                max_input_channels=int(info["maxInputChannels"]),
                default_sample_rate=round(float(info["defaultSampleRate"])),
            )
            for info in infos
            if int(info["maxInputChannels"]) > 0
        ]

    def default_input_index(self) -> int | None:
        with _portaudio_stderr_silenced():
            try:
                info = self.pa.get_default_input_device_info()
            except OSError:  # PortAudio: "No Default Input Device Available"
                return None
        return int(info["index"])

    def resolve(self, device: DeviceSpec) -> InputDevice:
        devices = self.input_devices()
        if not devices:
            raise MicrophoneError(
                "no audio input device found: no microphone is connected, or PortAudio "
                "cannot reach the sound system (on Linux, check that PulseAudio/PipeWire "
                "is running or that ALSA sees a capture card: arecord -l)"
            )
        available = _describe_devices(devices)
        if device is None:
            index = self.default_input_index()
            for candidate in devices:
                if candidate.index == index:
                    return candidate
            raise MicrophoneError(f"there is no default input device; choose one of: {available}")
        if isinstance(device, bool) or not isinstance(device, (int, str)):
            raise ParameterError(
                f"device={device!r} is not allowed: expected an int index, a name or None"
            )
        if isinstance(device, int):
            for candidate in devices:
                if candidate.index == device:
                    return candidate
            raise MicrophoneError(f"no input device has index {device}; available: {available}")
        if not device.strip():
            raise ParameterError("device='' is not allowed: give a device name or part of one")
        exact = [d for d in devices if d.name == device]
        if len(exact) == 1:
            return exact[0]
        wanted = device.casefold()
        matches = exact or [d for d in devices if wanted in d.name.casefold()]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise MicrophoneError(f"no input device matches {device!r}; available: {available}")
        raise MicrophoneError(
            f"{device!r} matches several input devices ({_describe_devices(matches)}); "
            f"give an index or a longer name. Available: {available}"
        )

    def supports(self, device: InputDevice, sample_rate: int, channels: int) -> bool:
        with _portaudio_stderr_silenced():
            try:
                return bool(
                    self.pa.is_format_supported(
                        sample_rate,
                        input_device=device.index,
                        input_channels=channels,
                        input_format=self.pyaudio.paInt16,
                    )
                )
            except ValueError:  # PyAudio's way of saying "unsupported"
                return False

    def negotiate(self, device: InputDevice, sample_rate: int, channels: int) -> int:
        return _pick_capture_rate(
            sample_rate,
            device,
            lambda rate: self.supports(device, rate, channels),
        )


def _describe_devices(devices: list[InputDevice]) -> str:
    return ", ".join(f"[{d.index}] {d.name!r}" for d in devices)


def _pick_capture_rate(
    sample_rate: int, device: InputDevice, supported: Callable[[int], bool]
) -> int:
    if supported(sample_rate):
        return sample_rate
    native = device.default_sample_rate
    if native != sample_rate and supported(native):
        return native
    raise MicrophoneError(
        f"input device [{device.index}] {device.name!r} supports neither "
        f"{sample_rate} Hz nor its native {native} Hz (16-bit)"
    )


def list_input_devices() -> list[InputDevice]:
    """List the devices that can record.

    Returns
    -------
    list of InputDevice
        Devices with at least one input channel, in PortAudio index order. Empty
        when there is no microphone.

    Raises
    ------
    MicrophoneError
        PyAudio is not installed or PortAudio failed to start.
    """
    with _PortAudioSession() as session:
        return session.input_devices()


def resolve_device(device: DeviceSpec = None) -> InputDevice:
    """Find one input device.

    Parameters
    ----------
    device : int, str or None
        ``None`` for the system's default input device; an int for a PortAudio
        device index; a str for an exact device name or, failing that, a
        case-insensitive part of exactly one device name.

    Returns
    -------
    InputDevice

    Raises
    ------
    MicrophoneError
        There is no input device, or ``device`` matches none or several (the
        message lists the available devices).
    ParameterError
        ``device`` is neither None, an int nor a non-empty str.
    """
    with _PortAudioSession() as session:
        return session.resolve(device)


def negotiate_sample_rate(
    device: DeviceSpec = None,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    *,
    channels: int = 1,
) -> int:
    """Choose the rate at which to open a device.

    Parameters
    ----------
    device : int, str or None
        As in :func:`resolve_device`.
    sample_rate : int
        Wanted rate, in Hz.
    channels : int
        Number of channels to capture.

    Returns
    -------
    int
        ``sample_rate`` when the device accepts it for 16-bit input, otherwise
        the device's native rate (the audio is then resampled to
        ``sample_rate``), in Hz.

    Raises
    ------
    MicrophoneError
        The device accepts neither rate, or cannot be found.
    """
    _check("negotiate_sample_rate", "sample_rate", sample_rate)
    _check("negotiate_sample_rate", "channels", channels)
    with _PortAudioSession() as session:
        resolved = session.resolve(device)
        _check_channels(resolved, channels)
        return session.negotiate(resolved, sample_rate, channels)


def _check_channels(device: InputDevice, channels: int) -> None:
    if channels > device.max_input_channels:
        raise ParameterError(
            f"channels={channels} is not allowed: input device [{device.index}] "
            f"{device.name!r} has {device.max_input_channels} input channel(s)"
        )


def rms_dbfs(chunk: npt.ArrayLike) -> float:
    """Root-mean-square level of a block of samples, for an input meter.

    Parameters
    ----------
    chunk : array_like, shape (n_samples,)
        Samples in [-1, 1] (full scale is 1.0).

    Returns
    -------
    float
        ``20 * log10(rms)`` in dBFS, where a full-scale square wave is 0 dBFS
        and a sine of amplitude 0.5 about -9.03 dBFS. Silence and empty input
        give :data:`SILENCE_FLOOR_DBFS` (-120 dBFS), never ``-inf``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(44100) / 44100
    >>> round(rms_dbfs(0.5 * np.sin(2 * np.pi * 440 * t)), 2)
    -9.03
    """
    samples = np.asarray(chunk, dtype=np.float64)
    if samples.size == 0:
        return SILENCE_FLOOR_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples))))
    floor = 10.0 ** (SILENCE_FLOOR_DBFS / 20.0)
    return 20.0 * math.log10(max(rms, floor))


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
        As in :func:`resolve_device`; ``None`` is the default input device.
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
        """Level of the last block read, in dBFS (see :func:`rms_dbfs`)."""
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
        As in :func:`resolve_device`; ``None`` is the default input device.
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
