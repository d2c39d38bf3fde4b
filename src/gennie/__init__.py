"""gennie: build, train, evaluate and interpret neural networks on genomic data.

The Python API is the same set of functions the CLI and the GUI call, one per stage
of :data:`gennie.config.STAGES`::

    from gennie import preprocess, train, evaluate, predict
    from gennie.config import PreprocessConfig, TrainConfig

    dataset = preprocess(PreprocessConfig(classes={"pos": "pos.fa", "neg": "neg.fa"}))
    model = train(TrainConfig(dataset=dataset.run_dir))
"""

from __future__ import annotations

from typing import Any

from gennie.version import VERSION as __version__

__all__ = [
    "__version__",
    "evaluate",
    "ism",
    "motifs",
    "predict",
    "preprocess",
    "train",
    "tune",
    "variants",
]


def __getattr__(name: str) -> Any:
    # Stage functions come from the stage registry, imported when first used, so that
    # `gennie --help` and config-only use do not pay for importing torch.
    from gennie.config.registry import STAGES

    if name in STAGES:
        return STAGES[name].runner()
    raise AttributeError(f"module 'gennie' has no attribute {name!r}")
