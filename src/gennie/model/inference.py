"""Running a trained network over many samples: device choice and batched softmax, and
the checks of the model a configuration names that need no network loaded."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from gennie.errors import UserError
from gennie.progress import Progress


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
    total: int | None = None,
    step: str = "predict",
) -> np.ndarray:
    """Class probabilities for batches of branch inputs.

    Args:
        forward: The network (eval mode), called as ``forward(*xs)``.
        batches: Each a list of float32 arrays, one per branch, shape=(m, c, length).
        device: Where to compute.
        outputs_are_probabilities: True if ``forward`` already returns probabilities.
        total: Number of samples, for the progress (:class:`~gennie.progress.Progress`).
        step: What the progress calls this step.

    Returns:
        shape=(n, classes), float64 probabilities (rows sum to 1).
    """
    parts = []
    with Progress(total, step, unit="sample") as progress:
        for arrays in batches:
            xs = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays]
            out = forward(*xs).float()
            probs = out if outputs_are_probabilities else out.softmax(dim=1)
            parts.append(probs.cpu().numpy().astype(np.float64))
            progress.update(len(parts[-1]))
    if not parts:
        return np.zeros((0, 0))
    return np.concatenate(parts)


def index_batches(
    inputs: Callable[[np.ndarray], list[np.ndarray]], indices: np.ndarray, batch_size: int
) -> Iterable[list[np.ndarray]]:
    """Batches of branch inputs for ``indices``, in order."""
    for lo in range(0, len(indices), batch_size):
        yield inputs(indices[lo : lo + batch_size])
