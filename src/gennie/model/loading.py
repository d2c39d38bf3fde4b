"""Models for evaluate and predict: a gennie bundle, or a custom TorchScript/ONNX file.

A custom model (as ENNGene accepted any pre-trained model) takes one float32 input per
branch, shape (n, channels, window), in the order of ``custom_branches``, and returns
(n, classes) logits or probabilities (told apart by whether rows are non-negative and
sum to 1). Its window, class names and branches come from the configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import ValidationError

from gennie.config import ModelInputConfig
from gennie.config.stages import is_custom_model
from gennie.dataset.spec import BranchSpec, PreprocessingSpec, validation_message
from gennie.dataset.store import Dataset
from gennie.encode import encoder_type
from gennie.errors import UserError
from gennie.model.bundle import BUNDLE_DIR, BranchInput, BundleSpec, find_bundle, load_bundle
from gennie.runs import RUN_FILE, read_status, require_complete


@dataclass
class LoadedModel:
    """A callable model plus what it expects.

    Attributes:
        forward: ``forward(*xs) -> (n, classes)`` tensor.
        spec: Classes, branches, inputs and preprocessing.
        outputs_are_probabilities: Whether ``forward`` returns probabilities.
        kind: ``bundle``, ``torchscript`` or ``onnx``.
    """

    forward: Callable[..., torch.Tensor]
    spec: BundleSpec
    outputs_are_probabilities: bool
    kind: str
    network: torch.nn.Module | None = None


def custom_spec(config: ModelInputConfig) -> BundleSpec:
    """The spec of a custom (TorchScript/ONNX) model, from the run's configuration.

    Each branch's encoder says what a custom model gets for it
    (:meth:`~gennie.encode.base.BranchEncoder.for_custom_model`): default parameters,
    and the reference files given for the run (e.g. one channel per signal track).

    Args:
        config: The evaluate/predict configuration naming the custom model.

    Returns:
        Classes, branches, input shapes and preprocessing (centred windows, strand
        applied, unknown bases as zeros, no genome recorded).

    Raises:
        UserError: No window or fewer than two class names, or an unknown branch.
    """
    for problem in custom_problems(config):
        raise problem
    window = config.custom_window
    encoders = {
        b: encoder_type(b, "custom_branches").for_custom_model(config)
        for b in config.custom_branches
    }
    try:
        return BundleSpec(
            classes=list(config.custom_classes),
            branches=list(encoders),
            inputs={
                b: BranchInput(channels=e.channels, length=window) for b, e in encoders.items()
            },
            preprocessing=PreprocessingSpec(
                window=window,
                alphabet=config.custom_alphabet,
                seed=config.seed,
                branches={b: BranchSpec.of(e) for b, e in encoders.items()},
            ),
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = str(problem["loc"][0]) if problem["loc"] else "classes"
        raise UserError(
            f"the custom model's settings do not describe a usable model "
            f"({validation_message(exc)})",
            field={"classes": "custom_classes", "branches": "custom_branches"}.get(
                where, "custom_window"
            ),
            hint="class names are letters, digits and . _ + -, not starting with a dot",
        ) from None


def _probe(forward: Callable[..., torch.Tensor], spec: BundleSpec, path: Path) -> bool:
    """Run a dummy batch: checks the output shape; tells logits from probabilities."""
    xs = [torch.rand(2, c, length) for c, length in spec.input_shapes().values()]
    try:
        out = forward(*xs)
    except Exception as exc:  # any failure here means the model does not fit the settings
        raise UserError(
            f"the model does not accept inputs of the given shapes ({exc})",
            file=path,
            field="model",
            hint="check --custom-window and --custom-branches",
        ) from None
    if out.ndim != 2 or out.shape[1] != len(spec.classes):
        raise UserError(
            f"the model returns shape {tuple(out.shape)}, expected (n, {len(spec.classes)})",
            file=path,
            field="custom_classes",
            hint="give one class name per model output",
        )
    out = out.detach().float()
    return bool((out >= 0).all() and torch.allclose(out.sum(1), torch.ones(2), atol=1e-4))


def load_model(config: ModelInputConfig) -> LoadedModel:
    """Load the model named by ``config.model``.

    Raises:
        UserError: No model given, not found, damaged, or a custom model's settings
            do not fit it.
    """
    if config.model is None:
        raise UserError(
            "no model given",
            field="model",
            hint="give --model with the folder that 'gennie train' printed",
        )
    path = Path(config.model)
    onnx = path.suffix.lower() == ".onnx"
    if path.is_file() and is_custom_model(path) and not onnx:
        spec = custom_spec(config)
        try:
            # TorchScript archives hold TorchScript, not pickled Python objects.
            module = torch.jit.load(str(path), map_location="cpu")
        except (RuntimeError, ValueError) as exc:
            raise UserError(
                f"not a TorchScript model ({exc})",
                file=path,
                field="model",
                hint="export with torch.jit.script/trace and torch.jit.save",
            ) from None
        module.eval()
        return LoadedModel(module, spec, _probe(module, spec, path), "torchscript", module)
    if path.is_file() and onnx:
        spec = custom_spec(config)
        try:
            import onnxruntime
        except ImportError:
            raise UserError(
                "ONNX models need the onnxruntime package",
                file=path,
                field="model",
                hint="pip install onnxruntime",
            ) from None
        try:
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise UserError(f"not a valid ONNX model ({exc})", file=path, field="model") from None
        names = [i.name for i in session.get_inputs()]

        def forward(*xs: torch.Tensor) -> torch.Tensor:
            """Run the ONNX session on one tensor per branch."""
            feeds = {n: x.cpu().numpy().astype(np.float32) for n, x in zip(names, xs, strict=True)}
            return torch.from_numpy(session.run(None, feeds)[0])

        if len(names) != len(spec.branches):
            raise UserError(
                f"the ONNX model has {len(names)} inputs but {len(spec.branches)} "
                "branches were given",
                file=path,
                field="custom_branches",
            )
        return LoadedModel(forward, spec, _probe(forward, spec, path), "onnx")
    require_finished_model(path)
    network, spec = load_bundle(path)
    return LoadedModel(network, spec, False, "bundle", network)


def require_finished_model(path: Path, field: str = "model") -> None:
    """Refuse a model whose train run did not finish.

    A train run folder (``run.json`` there) must say ``complete``; so must the run
    folder holding a ``model/`` bundle folder that is given itself. A bare bundle
    folder (no train run around it) is accepted.

    Args:
        path: A train run folder or a bundle folder.
        field: The configuration field naming it.

    Raises:
        UserError: The run failed, was cancelled, still runs, is of another stage, or
            its ``run.json`` cannot be read.
    """
    path = Path(path)
    run_dir = path
    if not (path / RUN_FILE).exists() and path.name == BUNDLE_DIR:
        parent = read_status(path.parent)
        if (path.parent / RUN_FILE).exists() and parent.get("stage") in (None, "train"):
            run_dir = path.parent
    if not (run_dir / RUN_FILE).exists():
        return
    if not read_status(run_dir):
        raise UserError(
            f"the train run's {RUN_FILE} cannot be read, so whether training finished is unknown",
            file=run_dir / RUN_FILE,
            field=field,
            hint="run 'gennie train' again",
        )
    require_complete(run_dir, "train", field)


def check_dataset_fits(dataset: Dataset, spec: BundleSpec, field: str = "blackbox") -> None:
    """Check that a dataset was preprocessed as the model expects (window, branches,
    classes).

    Raises:
        UserError: The window, a branch or a class does not match.
    """
    if dataset.window != spec.window:
        raise UserError(
            f"the dataset's window ({dataset.window}) differs from the model's ({spec.window})",
            file=dataset.path,
            field=field,
            hint="preprocess the data with the model's window",
        )
    missing = [b for b in spec.branches if b not in dataset.branches]
    if missing:
        raise UserError(
            f"the dataset lacks the model's branch(es) {', '.join(missing)}",
            file=dataset.path,
            field=field,
            hint="preprocess with the same branches as the training data",
        )
    unknown = [c for c in dataset.classes if c not in spec.classes]
    if unknown:
        raise UserError(
            f"the dataset has classes the model does not know: {', '.join(unknown)} "
            f"(model classes: {', '.join(spec.classes)})",
            file=dataset.path,
            field=field,
        )


def bundle_problems(path: Path, field: str = "model") -> list[UserError]:
    """Why a gennie model folder cannot be loaded, found without loading it.

    Args:
        path: A train run folder or its ``model/`` bundle folder.
        field: The configuration field naming it.

    Returns:
        The problem (a missing folder, a run folder of another stage or one that did
        not finish, a folder without a bundle), or nothing.
    """
    try:
        require_finished_model(Path(path), field)
        find_bundle(Path(path), field)
    except UserError as exc:
        return [exc]
    return []


def model_problems(config: ModelInputConfig) -> list[UserError]:
    """Why the model of an evaluate or predict configuration cannot be used, found
    without loading it (the rest shows when :func:`gennie.model.loading.load_model`
    loads it).

    Args:
        config: The configuration (``model`` and the ``custom_*`` settings).

    Returns:
        Field-tagged user errors: no model given; a model folder that is no finished
        train run or has no bundle; a custom model file without its window or class
        names.
    """
    if config.model is None:
        return [
            UserError(
                "no model given",
                field="model",
                hint="give --model with the folder that 'gennie train' printed",
            )
        ]
    path = Path(config.model)
    if not (path.is_file() and is_custom_model(path)):
        return bundle_problems(path)
    return custom_problems(config)


def custom_problems(config: ModelInputConfig) -> list[UserError]:
    """What a custom (TorchScript/ONNX) model's settings lack: its window, class names."""
    if not config.custom_window or len(config.custom_classes) < 2:
        return [
            UserError(
                "a custom model needs its window and class names",
                field="custom_window" if not config.custom_window else "custom_classes",
                hint="give --custom-window N and --custom-classes A,B",
            )
        ]
    return []
