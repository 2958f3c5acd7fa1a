"""The hypotheses of the speed search: :class:`Factor`, and the grids they are drawn from."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Kinds of change a :class:`Factor` stands for.
KINDS = ("speed", "pitch")


@dataclass(frozen=True)
class Factor:
    """One hypothesis about how the query was changed.

    Attributes
    ----------
    kind : str
        ``"speed"`` (tempo and pitch together) or ``"pitch"`` (pitch alone).
    value : float
        The ratio: query frequency over stored frequency (and, for
        ``"speed"``, stored duration over query duration).
    """

    kind: str
    value: float

    @property
    def freq_scale(self) -> float:
        """Query frequency over stored frequency."""
        return self.value

    @property
    def time_scale(self) -> float:
        """Stored frames per query frame."""
        return self.value if self.kind == "speed" else 1.0

    @property
    def speed(self) -> float:
        """Tempo ratio (1.0 for a pitch shift)."""
        return self.time_scale

    @property
    def pitch_semitones(self) -> float:
        """Pitch change (semitones)."""
        return 12.0 * math.log2(self.value)


def factor_grid(*, low: float, high: float, step: float, skip_near_one: float) -> np.ndarray:
    """Factors from ``low`` to ``high`` in relative steps of ``step``, in log scale.

    Factors within ``skip_near_one`` of 1 (relative) are left out: speed 1.0 is
    matched without a search.

    Returns
    -------
    np.ndarray, float64, ascending
    """
    n_down = math.floor(-math.log(low) / math.log1p(step) + 1e-9)
    n_up = math.floor(math.log(high) / math.log1p(step) + 1e-9)
    grid = (1.0 + step) ** np.arange(-n_down, n_up + 1, dtype=np.float64)
    return grid[np.abs(np.log(grid)) > math.log1p(skip_near_one) - 1e-12]


def _nearby(factor: Factor, step: float) -> list[Factor]:
    """``factor`` moved by ``step`` (relative) either way."""
    return [Factor(factor.kind, factor.value * (1.0 + step) ** k) for k in (-1, 1)]
