"""Scoring a model's class probabilities against labels: metrics, curves, plots.

- :mod:`gennie.scoring.metrics` — loss, accuracy, per-class and averaged AUROC/AUPRC,
  confusion matrix; the probability table;
- :mod:`gennie.scoring.plots` — ROC/PR curves, confusion matrix and training curves.

Shared by train (test split), evaluate and tune (validation split).
"""
