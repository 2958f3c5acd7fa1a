"""PyAudio, imported only when a microphone is used, and PortAudio kept quiet.

PyAudio is optional (the ``mic`` extra): it is imported when a function needs
it, and its absence raises :class:`~dejavu_lab.exceptions.MicrophoneError`
with the install command (:data:`INSTALL_HINT`).

PortAudio prints dozens of harmless ``ALSA lib ...`` and JACK lines on stderr
while it probes the sound system. They are discarded (file descriptor 2 points
at ``/dev/null`` while PortAudio starts, lists devices, opens and closes a
stream); set the environment variable ``DEJAVU_LAB_PORTAUDIO_STDERR=1`` to keep
them when debugging a device.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

from ..exceptions import MicrophoneError

INSTALL_HINT = (
    "PyAudio is not installed: pip install 'dejavu-lab[mic]' "
    "(on Debian/Ubuntu run apt-get install portaudio19-dev first, "
    "since PyAudio builds against the PortAudio headers)"
)
"""Message of the :class:`~dejavu_lab.exceptions.MicrophoneError` raised without PyAudio."""

_SHOW_PORTAUDIO_STDERR_ENV = "DEJAVU_LAB_PORTAUDIO_STDERR"

# fd 2 is process-wide: two threads swapping it at once could leave it on /dev/null.
_STDERR_LOCK = threading.RLock()


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
