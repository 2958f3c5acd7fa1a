"""Exceptions raised by dejavu-lab.

Every error a user can cause names the thing at fault: the parameter and its
allowed range, the file and why it could not be read, the database and who
holds it.
"""

from __future__ import annotations


class DejavuLabError(Exception):
    """Base class of every error raised on purpose by dejavu-lab."""


class ParameterError(DejavuLabError, ValueError):
    """A parameter name is unknown or its value is outside the allowed range."""


class AudioError(DejavuLabError):
    """An audio file is missing, empty, corrupt, not audio, too short or too long.

    Attributes
    ----------
    path : str
        The file at fault.
    reason : str
        Why it was refused, in a few words.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class StoreError(DejavuLabError):
    """The fingerprint database refused an operation."""


class StoreLockedError(StoreError):
    """The database file is held by another process."""


class IncompatibleStoreError(StoreError):
    """The database was built with other fingerprinting parameters."""


class MicrophoneError(DejavuLabError):
    """No usable microphone: PyAudio/PortAudio missing, or no input device."""
