"""Recognizers in Dejavu's style: ``djv.recognize(FileRecognizer, "clip.wav")``.

The file and in-memory recognizers are defined with the facade
(:mod:`dejavu_lab.dejavu`); the microphone one with live audio
(:mod:`dejavu_lab.live`), imported on demand because it needs PyAudio.
"""

from __future__ import annotations

from typing import Any

from .dejavu import BaseRecognizer, FileRecognizer, SamplesRecognizer

__all__ = ["BaseRecognizer", "FileRecognizer", "SamplesRecognizer"]  # and MicrophoneRecognizer


def __getattr__(name: str) -> Any:
    # MicrophoneRecognizer needs PyAudio (an optional extra): import on demand.
    if name == "MicrophoneRecognizer":
        from .live.listening import MicrophoneRecognizer

        return MicrophoneRecognizer
    raise AttributeError(name)
