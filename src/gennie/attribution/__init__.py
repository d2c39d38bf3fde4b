"""Attributions of a model's predictions, shared by evaluate, predict and interpret.

- :mod:`~gennie.attribution.attributions` — Integrated Gradients (captum) for every
  branch and position, on the target class's log-odds, with the completeness error;
- :mod:`~gennie.attribution.export` — ``attributions.npz`` / ``attributions.tsv``;
- :mod:`~gennie.attribution.report` — ``report.html`` and attribution logos;
- :mod:`~gennie.attribution.explain` — all of the above for an evaluate/predict run.
"""
