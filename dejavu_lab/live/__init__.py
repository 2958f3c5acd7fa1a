"""Live audio: the microphone, streaming recognition, listening and the trial panel.

PyAudio (the ``mic`` extra) is imported only when a microphone is opened, so
these modules import without it.
"""

from .listening import MicrophoneRecognizer, listen, record_and_match
from .streaming import StreamingRecognizer, StreamUpdate

__all__ = [
    "MicrophoneRecognizer",
    "StreamUpdate",
    "StreamingRecognizer",
    "listen",
    "record_and_match",
]
