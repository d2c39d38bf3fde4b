"""Interpretation stages: why a model predicts what it predicts.

- :mod:`~gennie.interpret.motifs` — first-layer filters as PWMs (``motifs`` stage);
- :mod:`~gennie.interpret.ism` — in-silico mutagenesis (``ism`` stage).

Integrated Gradients for evaluate/predict runs live one layer down, in
:mod:`gennie.attribution`. Python API::

    from gennie import ism, motifs, predict
    from gennie.config import IsmConfig, MotifsConfig, PredictConfig

    predict(PredictConfig(model="runs/train_x", input="new.fa", attributions=True))
    motifs(MotifsConfig(model="runs/train_x", dataset="runs/preprocess_x"))
    ism(IsmConfig(model="runs/train_x", sequence="ACGT..."))
"""
