"""Input devices through PyAudio: finding one, checking it, choosing its rate.

A device is named by its PortAudio index, by (part of) its name, or by None for
the system default (:data:`DeviceSpec`); :func:`resolve_device` finds it, or
raises a :class:`~dejavu_lab.exceptions.MicrophoneError` that lists the devices
there are. The device is opened at the rate asked for when PortAudio says it
can, otherwise at its native rate (:func:`negotiate_sample_rate`).

Each call starts its own PortAudio session (``_PortAudioSession``), so it
sees the sound server of the moment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from ..core.params import Constraint
from ..exceptions import MicrophoneError, ParameterError
from .portaudio import _import_pyaudio, _portaudio_stderr_silenced

DEFAULT_SAMPLE_RATE = 44100
"""Sample rate asked for when none is given, in Hz (Dejavu's rate)."""

# The recording's parameters too: one table for every microphone parameter.
_CONSTRAINTS: dict[str, Constraint] = {
    "seconds": Constraint(float, low=1e-3, high=24 * 3600),
    "sample_rate": Constraint(int, low=1000, high=768_000),
    "channels": Constraint(int, low=1, high=256),
    "chunk_seconds": Constraint(float, low=1e-3, high=3600),
    "frames_per_buffer": Constraint(int, low=16, high=1 << 16),
}

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
