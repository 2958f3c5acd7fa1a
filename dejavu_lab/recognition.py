"""The answer to one query: :class:`Recognition`, and the keys of its JSON (:data:`JSON_KEYS`).

What :meth:`Dejavu.match_samples <dejavu_lab.dejavu.Dejavu.match_samples>` and
:meth:`~dejavu_lab.dejavu.Dejavu.match_file` return, the live recognizers pass on, and
``dejavu-lab recognize`` prints. It imports nothing of the package: every layer above
:mod:`dejavu_lab.fingerprinting` may use it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The keys of ``dejavu-lab recognize --json``: a contract with external benchmarks.
JSON_KEYS = (
    "song_id",
    "song_name",
    "offset_seconds",
    "confidence",
    "aligned_hashes",
    "match_time_s",
    "speed",
    "pitch_semitones",
    "false_match_probability",
)


@dataclass(frozen=True)
class Recognition:
    """The answer to one query.

    Attributes
    ----------
    song_id, song_name : int or None, str or None
        The song, or None for "no match".
    offset_seconds : float or None
        Where in the song the query starts (s).
    confidence : float
        The answer's score. With the calibrated rule (``verifier__max_false_match``
        set, the default preset): ``-log10(false_match_probability)``, one
        scale whatever decided. Otherwise the score the answer was decided on:
        the peak-alignment ``z`` (:mod:`dejavu_lab.core.verify`) or ``-log10``
        of the hash vote's chance probability (:mod:`dejavu_lab.core.matching`).
    aligned_hashes, input_hashes : int
        Votes in the answer's (or the best candidate's) bin; hashes extracted
        from the query.
    match_time_s : float
        Fingerprinting the query plus lookup plus voting (s), decode excluded.
    decode_time_s : float
        Decoding and resampling the query (s); 0 for samples given directly.
    query_seconds : float
        Length of the query (s).
    candidates : list of dict
        The top-k candidates, best first (song_id, song_name, offset_seconds,
        aligned_hashes, confidence: the hash stage's, z: the peak-alignment
        score or None where not verified), including rejected ones.
    decided_by : str
        ``"hashes"`` (the matcher's rule, the verifier off or not needed) or
        ``"peaks"`` (candidates checked peak by peak); ``"gate"`` for a "no match"
        that the calibrated rule's channel gate decided (``verifier__full_band_db``:
        the null alone would have named a song).
    speed : float
        Tempo of the query over the song's (1.02: played 2 % fast), as found
        by the speed search (:mod:`dejavu_lab.core.speed`); 1.0 when not
        searched or not found.
    pitch_semitones : float
        Pitch of the query over the song's (semitones); 0.0 likewise.
    false_match_probability : float or None
        The chance that a query of music the database does not hold scores
        this high (:mod:`dejavu_lab.core.decision.calibration`); for "no match", that of
        the best candidate. A match needs at most ``verifier__max_false_match``.
        None without the calibrated rule.
    evidence : float
        The dimensionless evidence the probability was read from (``r``; 0
        without the calibrated rule).
    """

    song_id: int | None
    song_name: str | None
    offset_seconds: float | None
    confidence: float
    aligned_hashes: int
    input_hashes: int
    match_time_s: float
    decode_time_s: float = 0.0
    query_seconds: float = 0.0
    candidates: list[dict[str, Any]] = field(default_factory=list)
    decided_by: str = "hashes"
    speed: float = 1.0
    pitch_semitones: float = 0.0
    false_match_probability: float | None = None
    evidence: float = 0.0

    @property
    def is_match(self) -> bool:
        """Whether a song was named."""
        return self.song_id is not None

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (Dejavu's answer shape)."""
        return asdict(self)

    def to_json_dict(self) -> dict[str, Any]:
        """The ``--json`` contract: just the :data:`JSON_KEYS`."""
        answer = self.to_dict()
        return {key: answer[key] for key in JSON_KEYS}
