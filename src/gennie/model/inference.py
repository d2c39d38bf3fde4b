"""Running a trained network over many samples: device choice and batched softmax, and
the checks of the model a configuration names that need no network loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from gennie.config import ModelInputConfig
from gennie.config.stages import is_custom_model
from gennie.errors import UserError
from gennie.model.bundle import find_bundle
from gennie.runs import read_status, require_complete


def pick_device(name: str = "auto") -> torch.device:
    """The torch device for ``auto`` (CUDA, then Apple MPS, then CPU) or a named one.

    Raises:
        UserError: A named device that this machine does not have.
    """
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise UserError(
            f"device '{name}' is not available on this machine",
            field="device",
            hint="use --device auto or cpu",
        )
    return torch.device(name)


def lightning_accelerator(device: torch.device) -> str:
    """Lightning's accelerator name for a torch device."""
    return {"cuda": "gpu", "mps": "mps"}.get(device.type, "cpu")


def lightning_precision(precision: str) -> str:
    """Lightning's precision name for a training configuration's ``precision``."""
    return {"32": "32-true", "bf16": "bf16-mixed"}[precision]


def fast_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 in hardware (CPU: AVX-512 BF16 or AMX; CUDA:
    compute capability 8 or above). Elsewhere bfloat16 is emulated, slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        try:  # oneDNN's check of the CPU's instruction sets; absent from some builds
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return True


@torch.no_grad()
def predict_probabilities(
    forward: Callable[..., torch.Tensor],
    batches: Iterable[list[np.ndarray]],
    device: torch.device,
    outputs_are_probabilities: bool = False,
) -> np.ndarray:
    """Class probabilities for batches of branch inputs.

    Args:
        forward: The network (eval mode), called as ``forward(*xs)``.
        batches: Each a list of float32 arrays, one per branch, shape=(m, c, length).
        device: Where to compute.
        outputs_are_probabilities: True if ``forward`` already returns probabilities.

    Returns:
        shape=(n, classes), float64 probabilities (rows sum to 1).
    """
    parts = []
    for arrays in batches:
        xs = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays]
        out = forward(*xs).float()
        probs = out if outputs_are_probabilities else out.softmax(dim=1)
        parts.append(probs.cpu().numpy().astype(np.float64))
    if not parts:
        return np.zeros((0, 0))
    return np.concatenate(parts)


def index_batches(
    inputs: Callable[[np.ndarray], list[np.ndarray]], indices: np.ndarray, batch_size: int
) -> Iterable[list[np.ndarray]]:
    """Batches of branch inputs for ``indices``, in order."""
    for lo in range(0, len(indices), batch_size):
        yield inputs(indices[lo : lo + batch_size])


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
        if read_status(Path(path)):
            require_complete(Path(path), "train", field)
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
    if not config.custom_window or len(config.custom_classes) < 2:
        return [
            UserError(
                "a custom model needs its window and class names",
                field="custom_window" if not config.custom_window else "custom_classes",
                hint="give --custom-window N and --custom-classes A,B",
            )
        ]
    return []
