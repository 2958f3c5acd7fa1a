"""Which pipeline a recogniser uses: the one asked for, or the one its database was built with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .pipeline import Pipeline
from .presets import PRESETS, get_preset


def choose_pipeline(
    asked: Pipeline | str | Mapping[str, Any] | None, stored: Mapping[str, Any] | None
) -> Pipeline:
    """The pipeline asked for, else the one the database was built with.

    Parameters
    ----------
    asked : Pipeline, str, dict or None
        A pipeline, a preset's name, or ``{"stage__param": value}`` changes to the
        ``"default"`` preset. None: the database's parameters (over the preset that has
        them, else ``"default"``), or the ``"default"`` preset for a new database.
    stored : dict or None
        What the database records of how it was built (``{"params": {...}, ...}``), None
        for a new database.

    Returns
    -------
    Pipeline
    """
    chosen = asked
    if isinstance(chosen, str):
        chosen = get_preset(chosen)
    elif isinstance(chosen, Mapping):
        chosen = get_preset("default").with_params(**dict(chosen))
    if chosen is None:
        if stored is not None:
            base = _preset_for(stored["params"])
            chosen = base.with_params(**stored["params"])
        else:
            chosen = get_preset("default")
    assert isinstance(chosen, Pipeline)
    return chosen


def _preset_for(reference_params: Mapping[str, Any]) -> Pipeline:
    for pipeline in PRESETS.values():
        if pipeline.reference_params() == dict(reference_params):
            return pipeline
    return get_preset("default")
