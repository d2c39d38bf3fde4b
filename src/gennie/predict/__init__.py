"""Prediction: class probabilities for new data."""

from gennie._stage import make_callable

# `from gennie import predict` gives this package once it has been imported: keep it callable.
make_callable(__name__, "gennie.predict.prediction", "predict")
