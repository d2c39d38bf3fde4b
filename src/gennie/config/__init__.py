"""Configuration models: the single source of truth for every option and its default.

- :mod:`gennie.config.base` — what every model shares (strict keys; ``out``, ``name``,
  ``seed``) and the split names;
- :mod:`gennie.config.layers` — layer schemas and the architecture;
- :mod:`gennie.config.presets` — named architectures, plain data;
- :mod:`gennie.config.stages` — one model per stage;
- :mod:`gennie.config.search` — the search-space language and the tune stage;
- :mod:`gennie.config.variants` — the variants stage;
- :mod:`gennie.config.registry` — the stage registry (:data:`STAGES`);
- :mod:`gennie.config.options` — how each field is shown as a CLI flag or form field;
- :mod:`gennie.config.loading` — YAML in and out, paths, validation errors.

The CLI fills the models from YAML and flags, the GUI edits them, the library consumes
them, and every run folder saves the complete model as ``parameters.yaml`` so that
``gennie run`` can repeat the run.
"""

from gennie.config.base import (
    SPLITS,
    Activation,
    FieldError,
    PoolKind,
    Precision,
    StageConfig,
    StrictModel,
)
from gennie.config.layers import (
    ArchitectureConfig,
    ConvLayer,
    DenseLayer,
    GlobalPoolLayer,
    PoolLayer,
    RecurrentLayer,
)
from gennie.config.loading import (
    build_config,
    config_to_dict,
    dump_config,
    field_errors,
    load_run_config,
    read_yaml,
)
from gennie.config.registry import STAGES, Stage
from gennie.config.search import (
    CUSTOM_ARCHITECTURE,
    SEARCHED_TRAIN_FIELDS,
    ArchitectureSpace,
    FloatRange,
    IntRange,
    SearchSpace,
    TuneConfig,
)
from gennie.config.stages import (
    AttributionOptions,
    EvaluateConfig,
    IsmConfig,
    ModelInputConfig,
    MotifsConfig,
    PredictConfig,
    PreprocessConfig,
    TrainConfig,
    class_name_from_file,
)
from gennie.config.variants import VariantsConfig

__all__ = [
    "CUSTOM_ARCHITECTURE",
    "SEARCHED_TRAIN_FIELDS",
    "SPLITS",
    "STAGES",
    "Activation",
    "ArchitectureConfig",
    "ArchitectureSpace",
    "AttributionOptions",
    "ConvLayer",
    "DenseLayer",
    "EvaluateConfig",
    "FieldError",
    "FloatRange",
    "GlobalPoolLayer",
    "IntRange",
    "IsmConfig",
    "ModelInputConfig",
    "MotifsConfig",
    "PoolKind",
    "PoolLayer",
    "Precision",
    "PredictConfig",
    "PreprocessConfig",
    "RecurrentLayer",
    "SearchSpace",
    "Stage",
    "StageConfig",
    "StrictModel",
    "TrainConfig",
    "TuneConfig",
    "VariantsConfig",
    "build_config",
    "class_name_from_file",
    "config_to_dict",
    "dump_config",
    "field_errors",
    "load_run_config",
    "read_yaml",
]
