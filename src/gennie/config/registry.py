"""The stage registry: the one list of gennie's stages.

Each :class:`Stage` ties a stage's configuration model to the function that runs it
(named by import path, so that reading the registry imports no stage and no torch),
the function that checks a configuration before anything runs, a title, the CLI
command it is reached by, and the flag names that differ from the field names. The
CLI, ``gennie run``, the Python API's ``from gennie import train`` and the GUI's
pages are all generated from :data:`STAGES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gennie.config.base import StageConfig
from gennie.config.search import TuneConfig
from gennie.config.stages import (
    EvaluateConfig,
    IsmConfig,
    MotifsConfig,
    PredictConfig,
    PreprocessConfig,
    TrainConfig,
)
from gennie.config.variants import VariantsConfig


def resolve(target: str) -> Any:
    """The object named by ``"package.module:attribute"``."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline.

    Attributes:
        config: The stage's configuration model (its ``stage`` class variable is the
            stage's name, in the API, in ``parameters.yaml`` and in run folder names).
        function: ``module:function`` that runs the stage: ``function(config)``
            returns a :class:`~gennie.runs.StageResult`.
        check: ``module:function`` returning the user errors of a configuration
            (field-tagged :class:`~gennie.errors.UserError` s) without running anything.
        title: Short title (GUI page, CLI help).
        command: The CLI words that run it, e.g. ``("interpret", "motifs")``.
        flags: Flag names that differ from the field name (``classes`` → ``class``).
    """

    config: type[StageConfig]
    function: str
    check: str
    title: str
    command: tuple[str, ...]
    flags: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The stage's name, as its configuration model declares it."""
        return self.config.stage

    @property
    def summary(self) -> str:
        """One line saying what the stage does (the configuration model's docstring)."""
        return " ".join((self.config.__doc__ or self.title).split())

    def runner(self) -> Callable[[StageConfig], Any]:
        """The stage function (imports the stage's module)."""
        return resolve(self.function)

    def checker(self) -> Callable[[StageConfig], list[Any]]:
        """The stage's check function (imports the stage's module)."""
        return resolve(self.check)

    def run(self, config: StageConfig) -> Any:
        """Run the stage on a validated configuration."""
        return self.runner()(config)


_MODEL_FLAGS = {"classes": "class"}

STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage(
            PreprocessConfig,
            "gennie.preprocessing.stage:preprocess",
            "gennie.preprocessing.stage:check",
            "Preprocess",
            ("preprocess",),
            _MODEL_FLAGS,
        ),
        Stage(
            TrainConfig,
            "gennie.training.stage:train",
            "gennie.training.stage:check",
            "Train",
            ("train",),
        ),
        Stage(
            EvaluateConfig,
            "gennie.evaluation.stage:evaluate",
            "gennie.evaluation.stage:check",
            "Evaluate",
            ("evaluate",),
            _MODEL_FLAGS,
        ),
        Stage(
            PredictConfig,
            "gennie.prediction.stage:predict",
            "gennie.prediction.stage:check",
            "Predict",
            ("predict",),
            {"sequences": "sequence"},
        ),
        Stage(
            VariantsConfig,
            "gennie.variant_effects.stage:variants",
            "gennie.variant_effects.stage:check",
            "Variants",
            ("variants",),
        ),
        Stage(
            TuneConfig,
            "gennie.search.tuning:tune",
            "gennie.search.tuning:check",
            "Search",
            ("tune",),
        ),
        Stage(
            MotifsConfig,
            "gennie.interpret.motifs:motifs",
            "gennie.interpret.motifs:check",
            "Motifs",
            ("interpret", "motifs"),
        ),
        Stage(
            IsmConfig,
            "gennie.interpret.ism:ism",
            "gennie.interpret.ism:check",
            "ISM",
            ("interpret", "ism"),
        ),
    )
}
"""Every stage by name, in pipeline order."""
