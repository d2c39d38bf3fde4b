"""gennie: build, train, evaluate and interpret neural networks on genomic data.

The Python API is the same set of functions the CLI and the GUI call::

    from gennie import preprocess, train, evaluate, predict
    from gennie.config import PreprocessConfig, TrainConfig

    dataset = preprocess(PreprocessConfig(classes={"pos": "pos.fa", "neg": "neg.fa"}))
    model = train(TrainConfig(dataset=dataset.run_dir))
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate", "ism", "motifs", "predict", "preprocess", "train", "tune"]


def __getattr__(name: str):
    # Stage functions are imported lazily so that `gennie --help` and config-only
    # use do not pay for importing torch.
    if name == "preprocess":
        from gennie.dataset.preprocess import preprocess

        return preprocess
    if name == "train":
        from gennie.train.training import train

        return train
    if name == "evaluate":
        from gennie.evaluate.evaluation import evaluate

        return evaluate
    if name == "predict":
        from gennie.predict.prediction import predict

        return predict
    if name == "tune":
        from gennie.search.tuning import tune

        return tune
    if name in ("motifs", "ism"):
        import gennie.interpret

        return getattr(gennie.interpret, name)
    raise AttributeError(f"module 'gennie' has no attribute {name!r}")
