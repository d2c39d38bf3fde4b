"""Interpretation: why a model predicts what it predicts.

- :mod:`~gennie.interpret.attributions` — Integrated Gradients (captum) for every
  branch and position, on the target class's log-odds, with the completeness error;
- :mod:`~gennie.interpret.export` — ``attributions.npz`` / ``attributions.tsv``;
- :mod:`~gennie.interpret.report` — ``report.html`` and attribution logos;
- :mod:`~gennie.interpret.explain` — all of the above for an evaluate/predict run;
- :mod:`~gennie.interpret.motifs` — first-layer filters as PWMs (``motifs`` stage);
- :mod:`~gennie.interpret.ism` — in-silico mutagenesis (``ism`` stage).

Python API::

    from gennie.config import MotifsConfig, IsmConfig, PredictConfig
    from gennie.interpret import motifs, ism
    from gennie import predict

    predict(PredictConfig(model="runs/train_x", input="new.fa", attributions=True))
    motifs(MotifsConfig(model="runs/train_x", dataset="runs/preprocess_x"))
    ism(IsmConfig(model="runs/train_x", sequence="ACGT..."))
"""

from __future__ import annotations

# Imported here (not lazily) so that the names below are the functions, not the
# submodules of the same name.
from gennie.interpret.attributions import Attributions, attribute
from gennie.interpret.explain import write_attribution_outputs
from gennie.interpret.ism import ism
from gennie.interpret.motifs import motifs

__all__ = ["Attributions", "attribute", "ism", "motifs", "write_attribution_outputs"]
