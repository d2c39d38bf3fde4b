"""Hyper-parameter and architecture search (Optuna): the ``tune`` stage.

- :mod:`gennie.search.space` — the search space on a trial → a train configuration;
- :mod:`gennie.search.study` — storage, sampler, pruner and the pruning callback;
- :mod:`gennie.search.tuning` — the stage: run folder, workers, trials;
- :mod:`gennie.search.report` — ``trials.tsv``, plots, ``best_config.yaml``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["tune", "validation_metrics"]


def __getattr__(name: str) -> Any:
    # Imported lazily: the configuration and the CLI's help must not import torch.
    if name in __all__:
        from gennie.search import tuning

        return getattr(tuning, name)
    raise AttributeError(f"module 'gennie.search' has no attribute {name!r}")
