"""Evaluation of a trained classifier: metrics, curves and plots on held-out data."""

from gennie._stage import make_callable

# `from gennie import evaluate` gives this package once it has been imported: keep it callable.
make_callable(__name__, "gennie.evaluate.evaluation", "evaluate")
