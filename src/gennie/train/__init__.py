"""Training: Lightning module, data loading, callbacks and the train stage."""

from gennie._stage import make_callable

# `from gennie import train` gives this package once it has been imported: keep it callable.
make_callable(__name__, "gennie.train.training", "train")
