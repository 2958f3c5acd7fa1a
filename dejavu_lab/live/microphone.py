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

One module a concept; every name below imports from this module too:

- :mod:`.portaudio`: PyAudio imported when needed, PortAudio's stderr kept quiet
  (:data:`~.portaudio.INSTALL_HINT`);
- :mod:`.devices`: finding an input device and choosing its rate
  (:class:`~.devices.InputDevice`, :data:`~.devices.DeviceSpec`,
  :func:`~.devices.list_input_devices`, :func:`~.devices.resolve_device`,
  :func:`~.devices.negotiate_sample_rate`, :data:`~.devices.DEFAULT_SAMPLE_RATE`);
- :mod:`.levels`: the level of a block for a meter (:func:`~.levels.rms_dbfs`,
  :data:`~.levels.SILENCE_FLOOR_DBFS`);
- :mod:`.recording`: an open input stream and one blocking take
  (:class:`~.recording.MicrophoneStream`, :func:`~.recording.record`).

The constants are read in the module that defines them: set them there.

Examples
--------
>>> from dejavu_lab.live.microphone import record, list_input_devices
>>> list_input_devices()  # doctest: +SKIP
[InputDevice(index=0, name='pulse', max_input_channels=32, default_sample_rate=44100)]
>>> samples, sample_rate = record(5.0)  # doctest: +SKIP
"""

from __future__ import annotations

from .devices import (
    DEFAULT_SAMPLE_RATE,
    DeviceSpec,
    InputDevice,
    list_input_devices,
    negotiate_sample_rate,
    resolve_device,
)
from .levels import SILENCE_FLOOR_DBFS, rms_dbfs
from .portaudio import INSTALL_HINT
from .recording import MicrophoneStream, record

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "INSTALL_HINT",
    "SILENCE_FLOOR_DBFS",
    "DeviceSpec",
    "InputDevice",
    "MicrophoneStream",
    "list_input_devices",
    "negotiate_sample_rate",
    "record",
    "resolve_device",
    "rms_dbfs",
]
