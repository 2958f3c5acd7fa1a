"""Recognizers in Dejavu's style: ``djv.recognize(FileRecognizer, "clip.wav")``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .dejavu import Dejavu


class BaseRecognizer:
    """Turns some input into a recognition answer (a dict)."""

    def __init__(self, dejavu: Dejavu) -> None:
        self.dejavu = dejavu

    def recognize(self, *args: Any, **options: Any) -> dict[str, Any]:
        raise NotImplementedError


class FileRecognizer(BaseRecognizer):
    """Recognise an audio file."""

    def recognize(  # type: ignore[override]
        self, path: str | os.PathLike[str], *, top_k: int | None = None
    ) -> dict[str, Any]:
        return self.dejavu.match_file(path, top_k=top_k).to_dict()


class SamplesRecognizer(BaseRecognizer):
    """Recognise samples already in memory."""

    def recognize(  # type: ignore[override]
        self, samples: np.ndarray, sample_rate: int, *, top_k: int | None = None
    ) -> dict[str, Any]:
        return self.dejavu.match_samples(samples, sample_rate, top_k=top_k).to_dict()


def __getattr__(name: str) -> Any:
    # MicrophoneRecognizer needs PyAudio (an optional extra): import on demand.
    if name == "MicrophoneRecognizer":
        from .live import MicrophoneRecognizer

        return MicrophoneRecognizer
    raise AttributeError(name)
