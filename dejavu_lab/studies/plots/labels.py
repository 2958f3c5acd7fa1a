"""Axis labels with units, and fitted lines written as the write-up prints them."""

from __future__ import annotations

#: Axis labels (with units) of the column names used across the experiments.
_LABELS = {
    "seconds": "seconds listened (s)",
    "accuracy_pct": "accuracy (%)",
    "offset_correct_pct": "right song and offset (%)",
    "false_match_pct": "false matches (%)",
    "median_confidence": "median confidence (z or −log10 p)",
    "bytes_per_track": "storage per track (bytes)",
    "megabytes_per_track": "storage per track (MB)",
    "mb_per_track": "storage per track (MB)",
    "median_match_ms": "median match time (ms)",
    "peaks_per_second": "peaks per second of audio (1/s)",
    "capped_pct": "seconds where the cap binds (%)",
    "hashes_per_second": "hashes per second of audio (1/s)",
    "record_time_s": "recording time (s)",
    "match_time_s": "time to match (s)",
    "megabytes": "storage (MB)",
}

#: Units of pipeline parameters, by the name after ``stage__``.
_PARAM_UNITS = {
    "sample_rate": "Hz",
    "window_size": "samples",
    "hop_length": "samples",
    "fmin_hz": "Hz",
    "fmax_hz": "Hz",
    "query_shifts": "shifts",
    "neighborhood_freq": "bins",
    "neighborhood_time": "frames",
    "amp_min_db": "dB",
    "peaks_per_second": "peaks/s",
    "query_density": "×",
    "fan_value": "targets per anchor",
    "query_fan_value": "targets per anchor",
    "min_dt": "frames",
    "max_dt": "frames",
    "max_df": "bins",
    "time_tolerance": "frames",
    "min_aligned": "hashes",
    "min_confidence": "−log10 p",
    "min_z": "z",
    "candidates": "songs",
    "freq_tolerance": "bins",
    "background_s": "s",
    "search_frames": "frames",
}

_SUFFIX_UNITS = (
    ("_pct", "%"),
    ("_db", "dB"),
    ("_hz", "Hz"),
    ("_ms", "ms"),
    ("_s", "s"),
    ("_bytes", "bytes"),
    ("_mb", "MB"),
)


def axis_label(name: str) -> str:
    """A readable axis label, with its unit, for a column or parameter name.

    Parameters
    ----------
    name : str
        A column name (``"accuracy_pct"``) or a flat pipeline parameter
        (``"peaks__amp_min_db"``).

    Returns
    -------
    str
        E.g. ``"accuracy (%)"``, ``"peaks__amp_min_db (dB)"``; names of unknown
        unit are returned unchanged.

    Examples
    --------
    >>> axis_label("hasher__fan_value")
    'hasher__fan_value (targets per anchor)'
    """
    if name in _LABELS:
        return _LABELS[name]
    measure, _, tag = name.partition("_pct_")
    if tag and f"{measure}_pct" in _LABELS:
        # A sweep column of one condition and length, e.g. "accuracy_pct_laptop-mic_1s".
        condition, _, seconds = tag.rpartition("_")
        return _LABELS[f"{measure}_pct"].replace(" (%)", f", {condition} {seconds[:-1]} s (%)")
    parameter = name.rpartition("__")[2]
    if parameter in _PARAM_UNITS:
        return f"{name} ({_PARAM_UNITS[parameter]})"
    for suffix, unit in _SUFFIX_UNITS:
        if name.endswith(suffix):
            return f"{name} ({unit})"
    return name


def line_equation(slope: float, intercept: float, *, variable: str = "record_time") -> str:
    """A fitted line written as in the Dejavu write-up, six decimals.

    Examples
    --------
    >>> line_equation(1.364757, -0.034373)
    '1.364757 * record_time - 0.034373'
    """
    sign = "-" if intercept < 0 else "+"
    return f"{slope:.6f} * {variable} {sign} {abs(intercept):.6f}"
