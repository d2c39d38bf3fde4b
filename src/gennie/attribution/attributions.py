"""Integrated Gradients for every branch of a model at once (captum).

What is attributed: the **log-odds of the target class**,
``log(p_k / (1 - p_k)) = z_k - logsumexp_{j != k} z_j`` for logits ``z``. It is on the
logit scale, not the probability scale, because

- probabilities saturate: a confident prediction (p = 0.999) has almost no gradient
  left, so its attributions shrink towards zero exactly where the model is surest, and
  attributions of different samples cannot be compared;
- a single softmax logit ``z_k`` is not identifiable (adding a constant to every logit
  changes no probability), so part of its attribution would explain nothing the model
  outputs; the log-odds is invariant to that shift;
- for two classes the log-odds is the logit difference ``z_1 - z_0``, so a model that
  is linear in its inputs has exactly linear log-odds and IG equals
  ``(x - baseline) * w`` (the tests check this).

The same score is used by :mod:`gennie.interpret.ism`, so both methods agree in units.

Integrated Gradients (Sundararajan et al. 2017) integrates the gradient of that score
along the straight path from a baseline to the input. captum's
:class:`~captum.attr.IntegratedGradients` receives all branch tensors as one tuple, so
every branch is attributed in the same pass; the ``steps`` scaled copies of a batch are
evaluated together in chunks of ``internal_batch_size`` (no Python loop over steps).
Its convergence delta is the **completeness error**: the sum of all attributions minus
``score(x) - score(baseline)``, per sample.

Baselines:

- ``zeros`` (default): all-zero inputs (no base, no structure, no signal);
- ``shuffle``: the sample's own sequence (the branch whose encoder stores the bases,
  see :func:`sequence_branch`), dinucleotide-shuffled (seeded), one-hot encoded;
  other branches of that baseline are zeros (a shuffled sequence has no
  structure or conservation of its own);
- ``file``: an NPZ file with one array per branch name, shape ``(channels, length)``,
  used for every sample.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gennie.dataset.negatives import dinucleotide_shuffle
from gennie.encode import BranchEncoder
from gennie.encode.alphabet import LETTERS, base_codes, one_hot
from gennie.errors import UserError
from gennie.progress import Progress

SCORE_NAME = "log-odds"
"""Name of the attributed score (see the module docstring)."""

ALL_TARGETS = "all"
"""``target`` value that attributes every class."""


def log_odds(outputs: torch.Tensor, outputs_are_probabilities: bool = False) -> torch.Tensor:
    """Log-odds of every class, ``log(p_k / (1 - p_k))``.

    Args:
        outputs: Model outputs, shape=(n, K): logits, or probabilities if
            ``outputs_are_probabilities``.
        outputs_are_probabilities: True for models that end in a softmax.

    Returns:
        shape=(n, K), computed stably as ``z_k - logsumexp_{j != k} z_j``.
    """
    logits = outputs.clamp_min(1e-12).log() if outputs_are_probabilities else outputs
    n_classes = logits.shape[1]
    mask = torch.eye(n_classes, dtype=torch.bool, device=logits.device)
    others = logits.unsqueeze(1).expand(-1, n_classes, -1).masked_fill(mask, float("-inf"))
    return logits - torch.logsumexp(others, dim=2)


class LogOddsModel(torch.nn.Module):
    """Wraps a model so that it returns the log-odds of every class.

    Args:
        forward: The model, called as ``forward(*xs)`` with one tensor per branch.
        outputs_are_probabilities: Whether ``forward`` returns probabilities.
    """

    def __init__(
        self, forward: Callable[..., torch.Tensor], outputs_are_probabilities: bool = False
    ) -> None:
        super().__init__()
        self.model = forward
        self.outputs_are_probabilities = outputs_are_probabilities

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        """Log-odds, shape=(n, K), for inputs of shape (n, C, L) per branch."""
        return log_odds(self.model(*xs).float(), self.outputs_are_probabilities)


# --------------------------------------------------------------------------- baselines

SHUFFLE_SEED_STEP = 1_000_003
"""Seed distance between the shuffles of one batch when several are averaged (the
first shuffle's seed is the one a single shuffle has)."""


def sequence_branch(encoders: Mapping[str, BranchEncoder]) -> str | None:
    """The branch whose network input is the one-hot sequence itself.

    Args:
        encoders: The model's branch encoders, by branch.

    Returns:
        The first branch whose encoder stores the windows' bases, or None.
    """
    return next((b for b, encoder in encoders.items() if encoder.stores_base_codes), None)


def one_hot_letters(x: np.ndarray, alphabet: str = "dna") -> list[str]:
    """Letters of one-hot sequences (an all-zero or uniform column reads as N).

    Args:
        x: shape=(n, 4, L), one-hot (A, C, G, T/U).
        alphabet: ``dna`` or ``rna`` (T or U for the fourth channel).

    Returns:
        n strings of length L.
    """
    letters = np.array(list(LETTERS[alphabet] + "N"))
    codes = np.argmax(x, axis=1)
    codes[np.max(x, axis=1) < 0.5] = 4
    return ["".join(row) for row in letters[codes]]


def shuffled_baseline(x: np.ndarray, seed: int) -> np.ndarray:
    """Dinucleotide-shuffled copies of one-hot sequences.

    Args:
        x: shape=(n, 4, L), one-hot.
        seed: Seed of the shuffles (sample i uses the i-th draw of one generator).

    Returns:
        shape=(n, 4, L), float32, one-hot of the shuffled sequences (N stays all-zero).
    """
    rng = np.random.default_rng(seed)
    shuffled = [dinucleotide_shuffle(s, rng) for s in one_hot_letters(x)]
    codes = np.stack([base_codes(s) for s in shuffled]) if shuffled else np.zeros((0, 0))
    return one_hot(codes.astype(np.uint8), "zero")


def baseline_file_problems(path: Path) -> list[UserError]:
    """Why a baseline file cannot be read, as far as that shows without reading it.

    Args:
        path: The NPZ file.

    Returns:
        A missing file, or nothing.
    """
    if Path(path).is_file():
        return []
    return [UserError("baseline file not found", file=path, field="baseline_file")]


_BASELINE_HINT = "save it with numpy.savez(path, seq=array_4xL, ...): one number array per branch"


def _baseline_error(path: Path, message: str) -> UserError:
    """A problem of the baseline file."""
    return UserError(message, file=path, field="baseline_file", hint=_BASELINE_HINT)


def _array_header(archive: np.lib.npyio.NpzFile, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of an array in an NPZ archive, read from its header only."""
    with archive.zip.open(f"{name}.npy") as handle:
        version = np.lib.format.read_magic(handle)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read(handle)
    return tuple(shape), np.dtype(dtype)


def read_baseline_file(path: Path, shapes: dict[str, tuple[int, int]]) -> dict[str, np.ndarray]:
    """A user-given baseline: one array per branch, shape=(channels, length).

    The NPZ archive is read as numbers only: an array of Python objects (which loading
    would unpickle, running code from the file) is refused, and so is any array whose
    header shows the wrong shape or a non-numeric type, before its data is read.

    Raises:
        UserError: Missing file, not an NPZ archive, missing branch, pickled objects,
            wrong shape or type.
    """
    path = Path(path)
    problems = baseline_file_problems(path)
    if problems:
        raise problems[0]
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise _baseline_error(path, "the baseline is one array, not an NPZ archive")
            return {
                branch: _baseline_array(path, data, branch, shape)
                for branch, shape in shapes.items()
            }
    except UserError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise _baseline_error(path, f"cannot read the baseline ({exc})") from None


def _baseline_array(
    path: Path, data: np.lib.npyio.NpzFile, branch: str, shape: tuple[int, int]
) -> np.ndarray:
    """One branch's baseline array, checked by its header before it is read."""
    if branch not in data.files:
        raise UserError(
            f"the baseline has no array for branch '{branch}' (it has: "
            f"{', '.join(data.files[:20]) or 'none'})",
            file=path,
            field="baseline_file",
            hint="give one array per branch, named after the branch",
        )
    found, dtype = _array_header(data, branch)
    if dtype.hasobject:
        raise _baseline_error(
            path,
            f"the baseline of branch '{branch}' holds Python objects (pickled data), "
            "which gennie does not load",
        )
    if dtype.kind not in "biuf":
        raise _baseline_error(
            path, f"the baseline of branch '{branch}' holds {dtype} values, not numbers"
        )
    if found != shape:
        raise UserError(
            f"the baseline of branch '{branch}' has shape {found}, expected {shape}",
            file=path,
            field="baseline_file",
        )
    return np.asarray(data[branch], dtype=np.float32)


def make_baselines(
    xs: list[np.ndarray],
    branches: list[str],
    kind: str = "zeros",
    fixed: dict[str, np.ndarray] | None = None,
    seed: int = 0,
    sequence: str | None = None,
) -> list[np.ndarray]:
    """Baselines for one batch of inputs.

    Args:
        xs: One array per branch, shape=(n, C, L).
        branches: Branch names, in the order of ``xs``.
        kind: ``zeros``, ``shuffle`` or ``file``.
        fixed: For ``file``: one (C, L) array per branch (see :func:`read_baseline_file`).
        seed: For ``shuffle``.
        sequence: For ``shuffle``: the branch holding the one-hot sequence (see
            :func:`sequence_branch`); None when there is none.

    Returns:
        One float32 array per branch, shape=(n, C, L).
    """
    out = []
    for branch, x in zip(branches, xs, strict=True):
        if kind == "file" and fixed is not None:
            out.append(np.broadcast_to(fixed[branch], x.shape).astype(np.float32))
        elif kind == "shuffle" and branch == sequence:
            out.append(shuffled_baseline(x, seed))
        else:
            out.append(np.zeros_like(x, dtype=np.float32))
    return out


# --------------------------------------------------------------------------- targets


def resolve_target(target: str | None, classes: list[str]) -> list[int] | None:
    """Class indices to attribute: None for each sample's highest class.

    Args:
        target: None / ``highest`` (the top-scoring class of each sample), a class
            name, or ``all``.
        classes: The model's class names.

    Returns:
        None (per-sample highest class), or a list of class indices.

    Raises:
        UserError: An unknown class name.
    """
    if target in (None, "", "highest"):
        return None
    if target == ALL_TARGETS:
        return list(range(len(classes)))
    if target not in classes:
        raise UserError(
            f"'{target}' is not a class of the model ({', '.join(classes)})",
            field="target",
            hint="name one of the model's classes, 'highest' or 'all'",
        )
    return [classes.index(target)]


# --------------------------------------------------------------------------- IG


@dataclass
class Attributions:
    """Integrated Gradients of many samples.

    Attributes:
        branches: Branch names, in input order.
        classes: The model's class names.
        targets: shape=(n, T), int, the attributed class of each sample and target slot
            (T = 1 for the highest or a named class, T = K for ``all``).
        values: Per branch: shape=(n, T, C, L), float32 attributions.
        inputs: Per branch: shape=(n, C, L), float32, the inputs themselves.
        scores: shape=(n, T), the log-odds of the target at the input.
        baseline_scores: shape=(n, T), the log-odds at the baseline.
        delta: shape=(n, T), completeness error (sum of attributions minus
            ``scores - baseline_scores``), from captum's convergence delta.
    """

    branches: list[str]
    classes: list[str]
    targets: np.ndarray
    values: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    scores: np.ndarray
    baseline_scores: np.ndarray
    delta: np.ndarray

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def position_sums(self, slot: int = 0) -> dict[str, np.ndarray]:
        """Attribution per position (summed over channels): per branch shape=(n, L)."""
        return {b: v[:, slot].sum(axis=1) for b, v in self.values.items()}

    def totals(self) -> np.ndarray:
        """Sum of all attributions of each sample and target, shape=(n, T)."""
        return sum(v.sum(axis=(2, 3)) for v in self.values.values())

    def relative_error(self) -> np.ndarray:
        """|completeness error| / |score - baseline score|, shape=(n, T)."""
        gap = np.abs(self.scores - self.baseline_scores)
        return np.abs(self.delta) / np.maximum(gap, 1e-8)

    def subset(self, rows: np.ndarray) -> Attributions:
        """The attributions of some samples, in the order of ``rows``."""
        return Attributions(
            self.branches,
            self.classes,
            self.targets[rows],
            {b: v[rows] for b, v in self.values.items()},
            {b: v[rows] for b, v in self.inputs.items()},
            self.scores[rows],
            self.baseline_scores[rows],
            self.delta[rows],
        )


def default_internal_batch_size(device: torch.device) -> int:
    """Scaled inputs per IG forward/backward pass: 512 on a CPU, 8192 on a GPU.

    On a CPU, chunks of a few hundred inputs keep the activations in cache and run
    faster than one huge pass (``benchmarks/ig_throughput.py``: 512 was fastest for the
    default architecture); a GPU wants large batches to be busy.
    """
    return 512 if torch.device(device).type == "cpu" else 8192


def integrated_gradients(
    model: torch.nn.Module,
    xs: tuple[torch.Tensor, ...],
    baselines: tuple[torch.Tensor, ...],
    target: torch.Tensor,
    steps: int = 50,
    internal_batch_size: int | None = None,
) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """captum Integrated Gradients over all branches of one batch.

    Args:
        model: Returns per-class scores, shape=(n, K) (e.g. :class:`LogOddsModel`).
        xs: One tensor per branch, shape=(n, C, L).
        baselines: Same shapes as ``xs``.
        target: shape=(n,), int64 class index per sample.
        steps: Points on the path (Gauss–Legendre quadrature, captum's default).
        internal_batch_size: Scaled inputs per forward/backward pass (None: all
            ``n * steps`` at once).

    Returns:
        Attributions (one tensor per branch, shapes of ``xs``) and the completeness
        error per sample, shape=(n,).
    """
    # captum adds about 1.5 s to the start of every run that imports this module
    # (evaluate and predict without attributions, ism), so only attributing pays it.
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(model)
    # cuDNN's RNN backward refuses eval mode; the plain kernels compute the same thing.
    no_cudnn = (
        torch.backends.cudnn.flags(enabled=False) if xs[0].is_cuda else contextlib.nullcontext()
    )
    with no_cudnn:
        attributions, delta = ig.attribute(
            inputs=xs,
            baselines=baselines,
            target=target,
            n_steps=steps,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
        )
    return tuple(attributions), delta


def attribute(
    forward: Callable[..., torch.Tensor],
    batches: Iterable[list[np.ndarray]],
    branches: list[str],
    classes: list[str],
    *,
    target: str | None = None,
    steps: int = 50,
    baseline: str = "zeros",
    baseline_file: Path | None = None,
    outputs_are_probabilities: bool = False,
    device: torch.device | str = "cpu",
    seed: int = 0,
    sequence: str | None = None,
    internal_batch_size: int | None = None,
    total: int | None = None,
    shuffles: int = 1,
) -> Attributions:
    """Integrated Gradients of the log-odds for batches of samples.

    Args:
        forward: The model (a ``torch.nn.Module`` or TorchScript module), called as
            ``forward(*xs)``; it is put in eval mode.
        batches: Each a list of float32 arrays, one per branch, shape=(m, C, L).
        branches: Branch names in input order.
        classes: Class names in output order.
        target: None/``highest``, a class name, or ``all`` (see :func:`resolve_target`).
        steps: Integration steps (at least 1).
        baseline: ``zeros``, ``shuffle`` or ``file``.
        baseline_file: The NPZ for ``baseline='file'``.
        outputs_are_probabilities: Whether ``forward`` returns probabilities.
        device: Where to compute.
        seed: Seed of shuffled baselines.
        sequence: The branch holding the one-hot sequence, which a ``shuffle``
            baseline shuffles (see :func:`sequence_branch`).
        internal_batch_size: Scaled inputs per forward/backward pass (default
            :func:`default_internal_batch_size`).
        total: Number of samples, for the progress bar.
        shuffles: For ``shuffle``: how many shuffled baselines (seeded) each sample's
            attributions are averaged over (see :data:`SHUFFLE_SEED_STEP`).

    Returns:
        The :class:`Attributions` of all samples, in batch order.

    Raises:
        UserError: Unknown target class, bad baseline file, or a model that cannot
            be differentiated (ONNX).
    """
    if not isinstance(forward, torch.nn.Module):
        raise UserError(
            "attributions need gradients, which this model (ONNX) cannot give",
            field="attributions",
            hint="use a gennie model bundle or a TorchScript model",
        )
    if steps < 1:
        raise UserError(f"steps must be at least 1 (got {steps})", field="steps")
    fixed_targets = resolve_target(target, classes)
    device = torch.device(device)
    internal_batch_size = internal_batch_size or default_internal_batch_size(device)
    forward.eval()
    model = LogOddsModel(forward, outputs_are_probabilities).to(device)
    fixed = None
    parts: dict[str, list] = {k: [] for k in ("targets", "scores", "base", "delta")}
    values: dict[str, list[np.ndarray]] = {b: [] for b in branches}
    inputs: dict[str, list[np.ndarray]] = {b: [] for b in branches}
    progress = Progress(total, "integrated gradients", unit="sample")
    offset = 0
    for arrays in batches:
        if baseline == "file" and fixed is None:
            if baseline_file is None:
                raise UserError("baseline 'file' needs a baseline file", field="baseline_file")
            shapes = {b: tuple(a.shape[1:]) for b, a in zip(branches, arrays, strict=True)}
            fixed = read_baseline_file(baseline_file, shapes)
        xs = tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays)
        n = xs[0].shape[0]
        with torch.no_grad():
            score_x = model(*xs)
        if fixed_targets is None:
            slots = score_x.argmax(dim=1, keepdim=True)
        else:
            slots = torch.tensor(fixed_targets, device=device).expand(n, -1)
        draws = shuffles if baseline == "shuffle" else 1
        per_slot_values, per_slot_delta, score_b = [], [], None
        for draw in range(draws):
            # Several shuffles: the attributions, completeness errors and baseline
            # scores are averaged over the baselines (their mean keeps completeness).
            base_arrays = make_baselines(
                arrays,
                branches,
                baseline,
                fixed,
                seed + offset + draw * SHUFFLE_SEED_STEP,
                sequence,
            )
            bs = tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in base_arrays)
            with torch.no_grad():
                drawn = model(*bs) / draws
            score_b = drawn if score_b is None else score_b + drawn
            for t in range(slots.shape[1]):
                attrs, delta = integrated_gradients(
                    model, xs, bs, slots[:, t], steps, max(internal_batch_size, n)
                )
                attrs = tuple(a.detach() / draws for a in attrs)
                delta = delta.detach() / draws
                if draw == 0:
                    per_slot_values.append(attrs)
                    per_slot_delta.append(delta)
                else:
                    per_slot_values[t] = tuple(
                        a + b for a, b in zip(per_slot_values[t], attrs, strict=True)
                    )
                    per_slot_delta[t] = per_slot_delta[t] + delta
        for i, branch in enumerate(branches):
            stacked = torch.stack([a[i].detach() for a in per_slot_values], dim=1)
            values[branch].append(stacked.float().cpu().numpy())
            inputs[branch].append(np.asarray(arrays[i], dtype=np.float32))
        parts["targets"].append(slots.cpu().numpy())
        parts["scores"].append(score_x.gather(1, slots).cpu().numpy())
        parts["base"].append(score_b.gather(1, slots).cpu().numpy())
        parts["delta"].append(torch.stack(per_slot_delta, dim=1).float().cpu().numpy())
        offset += n
        progress.update(n)
    progress.close(finished=offset > 0)
    if offset == 0:
        raise UserError("no samples to attribute", field="attributions")
    return Attributions(
        branches=list(branches),
        classes=list(classes),
        targets=np.concatenate(parts["targets"]).astype(np.int64),
        values={b: np.concatenate(v) for b, v in values.items()},
        inputs={b: np.concatenate(v) for b, v in inputs.items()},
        scores=np.concatenate(parts["scores"]).astype(np.float64),
        baseline_scores=np.concatenate(parts["base"]).astype(np.float64),
        delta=np.concatenate(parts["delta"]).astype(np.float64),
    )
