"""Scoring a model's class probabilities against labels: metrics, curves, plots.

- :mod:`gennie.scoring.score` — :func:`~gennie.scoring.score.score`, the one call that
  train (test split), evaluate and tune (validation split) score through: the metrics,
  and with a folder ``metrics.json``, the curves and the confusion matrix;
- :mod:`gennie.scoring.metrics` — loss, accuracy, per-class and averaged AUROC/AUPRC,
  confusion matrix; the probability table;
- :mod:`gennie.scoring.plots` — ROC/PR curves, confusion matrix and training curves.
"""
