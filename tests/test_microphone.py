"""Microphone capture through the real PyAudio API, from a virtual microphone.

A private PulseAudio server (``tests/pulse.py``) plays seeded synthetic audio into
a null sink whose monitor is the default input; :func:`record` and
:class:`MicrophoneStream` must hand back that same audio. Nothing is mocked: when
PulseAudio or PyAudio is missing the tests skip and say why (``pytest -rs``).
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pytest
import scipy.signal
import soxr

from dejavu_lab.exceptions import MicrophoneError, ParameterError
from dejavu_lab.live.microphone import (
    INSTALL_HINT,
    SILENCE_FLOOR_DBFS,
    InputDevice,
    MicrophoneStream,
    list_input_devices,
    negotiate_sample_rate,
    record,
    resolve_device,
    rms_dbfs,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pulse import VirtualMicrophone, call_with_timeout, pulseaudio_available

pytestmark = [pytest.mark.mic, pytest.mark.timeout(120)]

SAMPLE_RATE = 44100
BLOCK_TIMEOUT_S = 20.0
SEED = 20240611
_T = TypeVar("_T")


def bounded(function: Callable[[], _T], what: str) -> _T:
    """Run a call that talks to PortAudio, failing clearly if it blocks."""
    return call_with_timeout(function, BLOCK_TIMEOUT_S, what)


def synthetic_signal(seconds: float, sample_rate: int, seed: int) -> npt.NDArray[np.float64]:
    """Seeded chirps and tones: never periodic, so the alignment is unique.

    Returns
    -------
    ndarray, shape (round(seconds * sample_rate),)
        Samples with peak amplitude 0.5.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    signal = np.zeros_like(t)
    for _ in range(3):  # steady tones with slow random tremolo
        frequency = rng.uniform(200.0, 4000.0)
        tremolo = 1.0 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.3, 3.0) * t)
        signal += tremolo * np.sin(2 * np.pi * frequency * t + rng.uniform(0, 2 * np.pi))
    for _ in range(3):  # chirps sweeping at different rates, in short bursts
        f0, f1 = rng.uniform(300.0, 6000.0, size=2)
        chirp = scipy.signal.chirp(t, f0=f0, f1=f1, t1=seconds, method="logarithmic")
        start = rng.uniform(0, seconds / 2)
        length = rng.uniform(0.4, seconds / 2)
        burst = (t >= start) & (t < start + length)
        signal += 1.5 * chirp * burst
    peak: float = np.max(np.abs(signal))
    return 0.5 * signal / peak


def peak_normalised_xcorr(recording: npt.ArrayLike, reference: npt.ArrayLike) -> tuple[float, int]:
    """Best normalised cross-correlation of a recording against a longer reference.

    Returns
    -------
    peak : float
        Largest Pearson-style correlation (no mean removal) over all lags, in [-1, 1].
    lag : int
        Offset of the recording within ``reference``, in samples.
    """
    rec = np.asarray(recording, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    n = rec.size
    assert ref.size >= n, "the reference must be at least as long as the recording"
    products = scipy.signal.correlate(ref, rec, mode="valid", method="fft")
    energy = np.concatenate([[0.0], np.cumsum(ref**2)])
    window_energy = energy[n:] - energy[:-n]
    denominator = np.sqrt(np.maximum(window_energy, 1e-12) * max(np.sum(rec**2), 1e-12))
    ncc = products / denominator
    lag = int(np.argmax(ncc))
    return float(ncc[lag]), lag


@pytest.fixture(scope="module")
def virtual_mic() -> Iterator[VirtualMicrophone]:
    """A private PulseAudio server for this module, torn down afterwards."""
    ok, reason = pulseaudio_available()
    if not ok:
        pytest.skip(reason)
    if importlib.util.find_spec("pyaudio") is None:
        pytest.skip(INSTALL_HINT)
    with VirtualMicrophone(sample_rate=SAMPLE_RATE) as mic:
        yield mic


@pytest.fixture(scope="module")
def played_signal() -> npt.NDArray[np.float64]:
    return synthetic_signal(3.0, SAMPLE_RATE, SEED)


def record_while_playing(
    mic: VirtualMicrophone,
    signal: npt.NDArray[np.float64],
    seconds: float,
    sample_rate: int,
) -> tuple[npt.NDArray[np.float32], int]:
    """Play ``signal`` into the room and record ``seconds`` of it meanwhile."""
    mic.play(signal, SAMPLE_RATE)
    try:
        return bounded(
            lambda: record(seconds, sample_rate=sample_rate),
            f"record({seconds}, sample_rate={sample_rate})",
        )
    finally:
        mic.stop_playing()


# -- devices ----------------------------------------------------------------


def test_lists_an_input_device(virtual_mic: VirtualMicrophone) -> None:
    devices = bounded(list_input_devices, "list_input_devices()")
    assert devices, "PortAudio lists no input device while the virtual mic runs"
    assert all(isinstance(d, InputDevice) for d in devices)
    assert all(d.max_input_channels >= 1 and d.default_sample_rate > 0 for d in devices)
    default = bounded(lambda: resolve_device(None), "resolve_device(None)")
    assert default in devices


def test_resolves_device_by_index_and_by_name(virtual_mic: VirtualMicrophone) -> None:
    devices = bounded(list_input_devices, "list_input_devices()")
    for device in devices:
        by_index = functools.partial(resolve_device, device.index)
        by_name = functools.partial(resolve_device, device.name)
        assert bounded(by_index, f"resolve_device({device.index})") == device
        assert bounded(by_name, f"resolve_device({device.name!r})") == device
    # A case-insensitive part of a name picks the one device that contains it.
    names = [d.name for d in devices]
    checked = 0
    for device in devices:
        for size in range(3, len(device.name) + 1):
            part = device.name[:size]
            if sum(part.casefold() in n.casefold() for n in names) == 1:
                query = part.swapcase()
                found = bounded(
                    functools.partial(resolve_device, query), f"resolve_device({query!r})"
                )
                assert found == device
                checked += 1
                break
    assert checked >= 1, f"no device name has a unique part: {names}"


def test_bad_device_names_the_available_devices(virtual_mic: VirtualMicrophone) -> None:
    devices = bounded(list_input_devices, "list_input_devices()")
    with pytest.raises(MicrophoneError, match="no input device matches") as error:
        bounded(lambda: resolve_device("no-such-microphone-xyz"), "resolve bad name")
    for device in devices:
        assert repr(device.name) in str(error.value)
    with pytest.raises(MicrophoneError, match="index 9999"):
        bounded(lambda: resolve_device(9999), "resolve bad index")
    with pytest.raises(MicrophoneError, match="no input device matches"):
        bounded(lambda: record(0.1, device="no-such-microphone-xyz"), "record bad name")
    with pytest.raises(ParameterError, match="device"):
        resolve_device(True)
    with pytest.raises(ParameterError, match="device"):
        resolve_device("  ")
    if len(devices) >= 2:
        common = set(devices[0].name.casefold()) & set(devices[1].name.casefold())
        if common:
            letter = sorted(common)[0]
            with pytest.raises(MicrophoneError, match="matches several"):
                bounded(lambda: resolve_device(letter), "resolve ambiguous")


# -- recording ----------------------------------------------------------------


def test_record_returns_what_was_played(
    virtual_mic: VirtualMicrophone, played_signal: npt.NDArray[np.float64]
) -> None:
    samples, rate = record_while_playing(virtual_mic, played_signal, 2.0, SAMPLE_RATE)
    assert rate == SAMPLE_RATE
    assert samples.dtype == np.float32
    assert samples.shape == (2 * SAMPLE_RATE,)
    assert np.all(np.abs(samples) <= 1.0)
    peak, lag = peak_normalised_xcorr(samples, played_signal)
    assert peak > 0.8, f"recording correlates {peak:.3f} with the played signal"
    assert 0 <= lag <= SAMPLE_RATE, f"recording starts {lag / SAMPLE_RATE:.3f} s in"
    # Unity gain end to end: the level matches the played stretch within 1 dB.
    played_level = rms_dbfs(played_signal[lag : lag + samples.size])
    assert abs(rms_dbfs(samples) - played_level) < 1.0


def test_native_rate_is_used_without_resampling(virtual_mic: VirtualMicrophone) -> None:
    device = bounded(lambda: resolve_device(None), "resolve_device(None)")
    assert device.default_sample_rate == SAMPLE_RATE
    rate = bounded(lambda: negotiate_sample_rate(None, SAMPLE_RATE), "negotiate 44100")
    assert rate == SAMPLE_RATE

    def open_and_read() -> tuple[int | None, int]:
        with MicrophoneStream(sample_rate=SAMPLE_RATE) as stream:
            return stream.capture_rate, stream.read_chunk(0.1).size

    capture_rate, size = bounded(open_and_read, "MicrophoneStream at 44100 Hz")
    assert capture_rate == SAMPLE_RATE
    assert size == round(0.1 * SAMPLE_RATE)


def test_record_at_22050_hz(
    virtual_mic: VirtualMicrophone, played_signal: npt.NDArray[np.float64]
) -> None:
    # Whether the device takes 22050 Hz or soxr converts from 44100 Hz, the
    # result must be 22050 Hz audio of the requested length and content.
    samples, rate = record_while_playing(virtual_mic, played_signal, 1.5, 22050)
    assert rate == 22050
    assert samples.shape == (round(1.5 * 22050),)
    # Compared at the played rate: at 22050 Hz the recording may sit half a
    # sample off the reference grid, which alone costs ~0.1 of correlation.
    peak, _ = peak_normalised_xcorr(soxr.resample(samples, rate, SAMPLE_RATE), played_signal)
    assert peak > 0.8, f"22050 Hz recording correlates {peak:.3f} with the signal"


def test_unsupported_rate_falls_back_to_native_and_resamples(
    virtual_mic: VirtualMicrophone, played_signal: npt.NDArray[np.float64]
) -> None:
    # PulseAudio caps rates at 384 kHz, so PortAudio refuses 400 kHz: the device
    # opens at its native 44100 Hz and soxr resamples the stream.
    wanted = 400_000
    capture = bounded(lambda: negotiate_sample_rate(None, wanted), "negotiate 400 kHz")
    if capture == wanted:
        pytest.skip("this PortAudio accepts 400 kHz, so there is no fallback to test")
    assert capture == SAMPLE_RATE

    def read_chunks() -> tuple[int | None, list[npt.NDArray[np.float32]]]:
        with MicrophoneStream(sample_rate=wanted, chunk_seconds=0.25) as stream:
            chunks = iter(stream)
            return stream.capture_rate, [next(chunks) for _ in range(4)]

    virtual_mic.play(played_signal, SAMPLE_RATE)
    try:
        capture_rate, chunks = bounded(read_chunks, "MicrophoneStream at 400 kHz")
    finally:
        virtual_mic.stop_playing()
    assert capture_rate == SAMPLE_RATE
    assert [c.size for c in chunks] == [round(0.25 * wanted)] * 4
    # Chunks join seamlessly: back at 44.1 kHz they match the played signal.
    joined = soxr.resample(np.concatenate(chunks), wanted, SAMPLE_RATE)
    peak, _ = peak_normalised_xcorr(joined[SAMPLE_RATE // 20 :], played_signal)
    assert peak > 0.8, f"resampled stream correlates {peak:.3f} with the signal"


def test_stream_yields_chunks_of_the_right_size(virtual_mic: VirtualMicrophone) -> None:
    def read_chunks() -> tuple[list[int], list[float], float]:
        sizes, levels = [], []
        with MicrophoneStream(sample_rate=SAMPLE_RATE, chunk_seconds=0.2) as stream:
            for chunk in itertools.islice(stream, 3):
                assert chunk.dtype == np.float32
                sizes.append(chunk.size)
                levels.append(stream.level_db)
            odd = stream.read_chunk(0.05).size
        return sizes, levels, odd

    sizes, levels, odd = bounded(read_chunks, "MicrophoneStream iteration")
    assert sizes == [round(0.2 * SAMPLE_RATE)] * 3
    assert odd == round(0.05 * SAMPLE_RATE)
    # Nothing is playing: the meter reads digital silence.
    assert max(levels) < -90.0


def test_stream_refuses_reads_when_closed_and_bad_parameters() -> None:
    stream = MicrophoneStream()
    with pytest.raises(MicrophoneError, match="not open"):
        stream.read_chunk(0.1)
    stream.close()  # closing a stream that never opened is harmless
    with pytest.raises(ParameterError, match="sample_rate"):
        MicrophoneStream(sample_rate=0)
    with pytest.raises(ParameterError, match="channels"):
        MicrophoneStream(channels=0)
    with pytest.raises(ParameterError, match="chunk_seconds"):
        MicrophoneStream(chunk_seconds=-1.0)
    with pytest.raises(ParameterError, match="seconds"):
        record(0.0)
    with pytest.raises(ParameterError, match="seconds"):
        record(float("nan"))


def test_too_many_channels_is_a_parameter_error(virtual_mic: VirtualMicrophone) -> None:
    device = bounded(lambda: resolve_device(None), "resolve_device(None)")
    channels = device.max_input_channels + 1
    if channels > 256:
        pytest.skip("the default device offers more channels than the allowed maximum")
    with pytest.raises(ParameterError, match="input channel"):
        bounded(lambda: record(0.1, channels=channels), "record with too many channels")


def test_no_input_device_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # With no sound card and PulseAudio pointed at a dead socket, PortAudio
    # finds no input device at all: the error must say so, not crash.
    if importlib.util.find_spec("pyaudio") is None:
        pytest.skip(INSTALL_HINT)
    ok, reason = pulseaudio_available()
    if not ok:
        pytest.skip(reason)
    cards = Path("/proc/asound/cards")
    if cards.exists() and "no soundcards" not in cards.read_text():
        pytest.skip("this machine has a sound card, so it has input devices")
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent/dejavu-lab-test/native")
    assert bounded(list_input_devices, "list_input_devices() without a server") == []
    with pytest.raises(MicrophoneError, match="no audio input device found"):
        bounded(lambda: record(0.1), "record() without a server")


def test_missing_pyaudio_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes ``import pyaudio`` fail as if not installed.
    monkeypatch.setitem(sys.modules, "pyaudio", None)
    with pytest.raises(MicrophoneError) as error:
        list_input_devices()
    message = str(error.value)
    assert "pip install 'dejavu-lab[mic]'" in message
    assert "portaudio19-dev" in message


def test_a_blocked_call_fails_with_a_clear_message() -> None:
    with pytest.raises(TimeoutError, match=r"sleeping forever blocked for more than 0\.1 s"):
        call_with_timeout(lambda: time.sleep(2), 0.1, "sleeping forever")
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 1.0, "dividing")
    assert call_with_timeout(lambda: 42, 1.0, "answering") == 42


# -- level meter ----------------------------------------------------------------


def test_rms_dbfs_of_silence_is_the_floor() -> None:
    assert rms_dbfs(np.zeros(4410, dtype=np.float32)) == SILENCE_FLOOR_DBFS
    assert rms_dbfs(np.zeros(0)) == SILENCE_FLOOR_DBFS
    assert rms_dbfs(np.full(100, 1e-9)) == SILENCE_FLOOR_DBFS


def test_rms_dbfs_of_a_half_scale_sine_is_minus_9() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    sine = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    assert rms_dbfs(sine) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.01)
    assert rms_dbfs(sine) == pytest.approx(-9.03, abs=0.05)
    assert rms_dbfs(np.ones(64)) == pytest.approx(0.0, abs=1e-9)
