"""A notebook panel for live microphone trials: Dejavu's microphone study, by hand.

Play a random excerpt of a fingerprinted song over the speakers, press
*Listen*, and mark the answer *right* or *wrong* (choosing the true song when
wrong). Each trial is appended to a DuckDB ``trials`` table, so a study can
span sessions, and the accuracy-versus-seconds plot is redrawn after each one
beside the write-up's published curve.

Every widget is an attribute, so tests and notebooks can drive the panel from
Python: set ``panel.seconds.value``, ``panel.listen_button.click()`` (records
in a background thread; ``panel.wait()``), read ``panel.result.value`` or
``panel.last_recognition``, ``panel.mark_right.click()``, ``panel.trials()``.

Needs the ``notebooks`` extra (ipywidgets) and, to record, the ``mic`` extra.

One module a concept; every name below imports from this module too:

- :mod:`.trials`: the bookkeeping, a row per trial in a DuckDB table
  (:class:`~.trials.Trial`, :class:`~.trials.TrialLog`, :data:`~.trials.TRIAL_COLUMNS`);
- :mod:`.trial_render`: the status lines, the trials table and the accuracy plot,
  as HTML and PNG;
- :mod:`.trial_layout`: each widget's look, and the panel's layout
  (:data:`~.trial_layout.LEVEL_FLOOR_DBFS`);
- :mod:`.trial_panel`: what the widgets do (:class:`~.trial_panel.TrialPanel`).

The constants are read in the module that defines them: set them there.

Examples
--------
>>> from dejavu_lab import Dejavu
>>> from dejavu_lab.live.widgets import TrialPanel
>>> panel = TrialPanel(Dejavu({"database": "fingerprints.duckdb"}))  # doctest: +SKIP
>>> panel  # doctest: +SKIP
"""

from __future__ import annotations

from .trial_layout import LEVEL_FLOOR_DBFS
from .trial_panel import TrialPanel
from .trials import TRIAL_COLUMNS, Trial, TrialLog

__all__ = ["LEVEL_FLOOR_DBFS", "TRIAL_COLUMNS", "Trial", "TrialLog", "TrialPanel"]
