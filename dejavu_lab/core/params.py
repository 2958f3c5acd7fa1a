"""Declarative parameter validation for the frozen stage dataclasses.

Each stage declares a ``_constraints`` table mapping a field name to one
:class:`Constraint`. :func:`validate_params` checks every field at construction
and raises one :class:`~dejavu_lab.exceptions.ParameterError` naming the
parameter, its value and what is allowed. Tests generate bad values from the
same table (:meth:`Constraint.invalid_examples`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..exceptions import ParameterError


@dataclass(frozen=True)
class Constraint:
    """What values one parameter may take.

    Parameters
    ----------
    kind : type
        ``int``, ``float``, ``bool`` or ``str``; ``int`` values are accepted where
        ``float`` is asked.
    low, high : float, optional
        Inclusive bounds for numbers.
    options : tuple of str, optional
        Allowed values for strings.
    allow_none : bool
        Whether ``None`` is allowed (it means "no limit" or "same as reference").
    """

    kind: type
    low: float | None = None
    high: float | None = None
    options: tuple[str, ...] | None = None
    allow_none: bool = False

    def describe(self) -> str:
        """Say in words what is allowed."""
        if self.options is not None:
            text = "one of " + ", ".join(repr(o) for o in self.options)
        elif self.kind is bool:
            text = "True or False"
        else:
            low = "-inf" if self.low is None else f"{self.low:g}"
            high = "inf" if self.high is None else f"{self.high:g}"
            text = f"{self.kind.__name__} in [{low}, {high}]"
        return text + (" or None" if self.allow_none else "")

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies this constraint."""
        if value is None:
            return self.allow_none
        if self.kind is bool:
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if self.kind is float and (not isinstance(value, (int, float)) or not math.isfinite(value)):
            return False
        if self.kind is str:
            if not isinstance(value, str):
                return False
            return self.options is None or value in self.options
        if self.low is not None and value < self.low:
            return False
        return not (self.high is not None and value > self.high)

    def invalid_examples(self) -> list[Any]:
        """Values this constraint must refuse (used by the tests)."""
        bad: list[Any] = ["not-a-number"] if self.kind is not str else [3]
        if not self.allow_none:
            bad.append(None)
        if self.low is not None:
            bad.append(self.low - 1)
        if self.high is not None:
            bad.append(self.high + 1)
        if self.kind is int:
            bad.append(1.5)
        if self.kind is float:
            bad.append(float("nan"))
        if self.options is not None:
            bad.append("no-such-option")
        return bad


def validate_params(instance: Any) -> None:
    """Check every field of a stage dataclass against its ``_constraints``.

    Raises
    ------
    ParameterError
        Naming the first parameter whose value is not allowed.
    """
    table: Mapping[str, Constraint] = type(instance)._constraints
    owner = type(instance).__name__
    for field in dataclasses.fields(instance):
        constraint = table.get(field.name)
        if constraint is None:
            continue
        value = getattr(instance, field.name)
        if not constraint.accepts(value):
            raise ParameterError(
                f"{owner}.{field.name}={value!r} is not allowed: expected {constraint.describe()}"
            )


def check_known(names: Sequence[str], known: Sequence[str], where: str) -> None:
    """Refuse parameter names that are not in ``known``, suggesting close ones."""
    import difflib

    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ParameterError(
                f"unknown parameter {name!r} for {where}{hint} (known: {', '.join(sorted(known))})"
            )
