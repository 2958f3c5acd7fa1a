"""Channels: ordered chains of degradations, seeded one generator a stage."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from ...core.params import Constraint, validate_params
from ...exceptions import ParameterError
from ._samples import Float32Array, _as_mono, _to_float32

SeedLike: TypeAlias = int | np.random.SeedSequence | np.random.Generator
"""What :meth:`Channel.apply` accepts as its source of randomness."""


class Degradation(Protocol):
    """Anything a :class:`Channel` can apply: one stage, or another channel."""

    def apply(
        self, samples: npt.ArrayLike, sample_rate: int, rng: np.random.Generator, /
    ) -> Float32Array:
        """Return the degraded samples: float32, same length, same sample rate."""
        ...


def _seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4).tolist())
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(
            f"seed={seed!r} is not allowed: expected an int >= 0, a SeedSequence or a Generator"
        )
    return np.random.SeedSequence(int(seed))


@dataclass(frozen=True, kw_only=True)
class Channel:
    """An ordered chain of degradations with a name, itself a degradation.

    Stage ``i`` draws from its own generator, child ``i`` of the seed, so
    that the output depends only on the input, the seed and the stages up to
    it: appending a stage leaves what earlier stages do unchanged.

    Parameters
    ----------
    stages : tuple of Degradation
        Applied in order; each needs ``apply(samples, sample_rate, rng)``.
    name : str
        Short identifier used in query sets and result tables.

    Examples
    --------
    >>> from dejavu_lab.studies.channel import Channel, Gain, Noise
    >>> quiet_room = Channel(stages=(Noise(snr_db=30.0, kind="pink"),), name="quiet-room")
    >>> louder = quiet_room + Gain(db=6.0)
    >>> louder.name, len(louder.stages)
    ('quiet-room+Gain', 2)
    """

    stages: tuple[Degradation, ...] = ()
    name: str = "custom"

    _constraints: ClassVar[dict[str, Constraint]] = {"name": Constraint(str)}

    def __post_init__(self) -> None:
        validate_params(self)
        if not self.name:
            raise ParameterError("Channel.name='' is not allowed: expected a non-empty str")
        if not isinstance(self.stages, (tuple, list)):
            raise ParameterError(
                f"Channel.stages={self.stages!r} is not allowed: expected a tuple of stages"
            )
        for stage in self.stages:
            if not callable(getattr(stage, "apply", None)):
                raise ParameterError(
                    f"Channel.stages contains {stage!r}, which has no apply() method"
                )
        # A list is accepted for convenience but stored as a tuple: hashable.
        object.__setattr__(self, "stages", tuple(self.stages))

    def apply(self, samples: npt.ArrayLike, sample_rate: int, seed: SeedLike) -> Float32Array:
        """Apply every stage in order.

        Parameters
        ----------
        samples : array_like, shape (n_samples,)
            Mono signal, nominally in [-1, 1].
        sample_rate : int
            Sampling rate in Hz.
        seed : int, numpy.random.SeedSequence or numpy.random.Generator
            Source of randomness. An int or a SeedSequence gives the same
            output every time; a Generator is advanced (one child spawned).

        Returns
        -------
        numpy.ndarray, shape (n_samples,), float32
            The degraded signal, same length and sample rate.
        """
        output = _to_float32(_as_mono(samples, sample_rate))
        root = _seed_sequence(seed)
        for index, stage in enumerate(self.stages):
            # Built from entropy and key, not spawn(): spawn() would mutate a
            # caller's SeedSequence and break "same seed, same output".
            child = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, index))
            output = stage.apply(output, sample_rate, np.random.default_rng(child))
        return output

    def then(self, *stages: Degradation, name: str | None = None) -> Channel:
        """A new channel with ``stages`` appended, named ``name`` if given."""
        labels = "+".join(
            stage.name if isinstance(stage, Channel) else type(stage).__name__ for stage in stages
        )
        new_name = name if name is not None else f"{self.name}+{labels}" if stages else self.name
        return Channel(stages=(*self.stages, *stages), name=new_name)

    def __add__(self, other: Degradation) -> Channel:
        """``channel + stage`` or ``channel + channel``: run ``other`` after this one."""
        if isinstance(other, Channel):
            return Channel(stages=(*self.stages, *other.stages), name=f"{self.name}+{other.name}")
        if not callable(getattr(other, "apply", None)):
            return NotImplemented
        return self.then(other)

    def describe(self) -> dict[str, object]:
        """Name and stage parameters as plain data, for experiment records."""
        described: list[object] = []
        for stage in self.stages:
            if isinstance(stage, Channel):
                described.append(stage.describe())
            elif dataclasses.is_dataclass(stage):
                params = {f.name: getattr(stage, f.name) for f in dataclasses.fields(stage)}
                described.append({"stage": type(stage).__name__, **params})
            else:
                described.append({"stage": type(stage).__name__, "repr": repr(stage)})
        return {"name": self.name, "stages": described}
