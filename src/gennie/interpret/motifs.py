"""Motifs from the first convolution layer of the sequence branch.

The sequence branch is the one whose encoder stores the windows' bases (``seq``; see
:func:`~gennie.attribution.attributions.sequence_branch`). Each filter of its first
layer scans the one-hot sequence. Following DeepBind and
Basset (Kelley et al. 2016), a filter's position weight matrix is built from the
windows it responds to most:

1. the filter's activation (convolution plus the layer's activation function, before
   batch normalization and dropout) is computed at every position of every scanned
   sample; ``max_f`` is its largest value;
2. every window whose activation exceeds ``threshold × max_f`` (default 0.5, Basset's
   choice) is a **site** of the filter; filters whose activation never rises above 0
   have no sites;
3. the sites' one-hot letters are summed per window position (the counts) and each
   column is normalised to probabilities; a column with no letter (all padding/N)
   becomes uniform.

Dilated filters read every ``dilation``-th base, so their PWM has ``kernel_size``
columns of those bases. Padding ``same`` lets windows hang over the ends; the
positions outside the sequence count as no letter.

Filters are ranked by **influence** (Basset's nullification): each filter's output is
replaced by its mean activation over the scanned samples and the mean absolute change
in each sample's highest-class log-odds is measured.

Which class a filter speaks for: the same nullification gives, per class, the mean
*signed* change of that class's log-odds (``effect_<class>``: how much the class's
log-odds fall when the filter is silenced; positive means the filter supports the
class), and the filter's mean highest activation over the scanned samples of each
class (``activation_<class>``). ``supports`` names the class with the largest positive
effect (empty when silencing the filter raises every class).

Outputs of the ``motifs`` stage: ``motifs.meme`` (MEME format 4, one motif per filter
with sites, ``nsites`` = its number of sites, background = the base frequencies of the
scanned samples), ``motifs.tsv`` (rank, filter, consensus, sites, information content,
influence, the class it supports with the per-class effects and activations, and the
best database match when one is given), ``logos/filter_<k>.png``
and ``.svg`` (information-content logos), and with a database ``matches.tsv`` (the
five best TOMTOM matches of each filter, memelite's implementation).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import logomaker
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from memelite import tomtom
from memelite.io import read_meme

from gennie.attribution.attributions import log_odds, sequence_branch
from gennie.config import MotifsConfig
from gennie.dataset.inputs import spec_encoders
from gennie.dataset.store import Dataset
from gennie.encode.alphabet import LETTERS
from gennie.errors import UserError
from gennie.model.bundle import BundleSpec, load_bundle
from gennie.model.inference import pick_device
from gennie.model.loading import bundle_problems, check_dataset_fits, require_finished_model
from gennie.model.network import first_member
from gennie.progress import Progress, track
from gennie.runs import LOGOS_DIR, MEME_FILE, MOTIFS_FILE, StageResult, run_folder

log = logging.getLogger("gennie.interpret")

MATCHES_FILE = "matches.tsv"


@dataclass
class FilterMotif:
    """The motif of one first-layer filter.

    Attributes:
        filter: 0-based filter index.
        counts: shape=(4, width), letter counts over the sites.
        sites: Number of windows above the threshold.
        max_activation: The filter's largest activation.
        influence: Mean |change of the highest-class log-odds| when nullified.
        effects: Per class, the mean fall of its log-odds when nullified (positive:
            the filter supports the class).
        activations: Per class, the filter's mean highest activation in its samples.
    """

    filter: int
    counts: np.ndarray
    sites: int
    max_activation: float
    influence: float = 0.0
    effects: dict[str, float] = field(default_factory=dict)
    activations: dict[str, float] = field(default_factory=dict)

    @property
    def supports(self) -> str:
        """The class whose log-odds fall most without the filter ("" if none falls)."""
        best = max(self.effects.items(), key=lambda item: item[1], default=("", 0.0))
        return best[0] if best[1] > 0 else ""

    @property
    def pwm(self) -> np.ndarray:
        """Letter probabilities, shape=(4, width); columns without letters are uniform."""
        total = self.counts.sum(axis=0, keepdims=True)
        return np.where(total > 0, self.counts / np.maximum(total, 1e-12), 0.25)

    @property
    def information(self) -> float:
        """Information content of the PWM in bits (sum over columns)."""
        p = self.pwm
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=0)
        return float(np.sum(2.0 - entropy)) if self.sites else 0.0

    def consensus(self, alphabet: str = "dna") -> str:
        """Most frequent letter per column: upper case when its probability is at least
        0.5, lower case otherwise; ``N`` for a filter without sites."""
        letters = LETTERS[alphabet]
        if not self.sites:
            return "N" * self.counts.shape[1]
        p = self.pwm
        best = p.argmax(axis=0)
        return "".join(
            letters[b] if p[b, i] >= 0.5 else letters[b].lower() for i, b in enumerate(best)
        )


def first_convolution(network: torch.nn.Module, branch: str) -> torch.nn.Module:
    """The first block of a branch, which must be a convolution.

    Args:
        network: A :class:`~gennie.model.network.MultiBranchNetwork` (of an ensemble:
            its first network).
        branch: The branch (the sequence branch).

    Returns:
        The conv block (children ``pad`` (optional), ``conv``, ``activation``, ...).

    Raises:
        UserError: No such branch, or it does not start with a convolution.
    """
    branches = getattr(first_member(network), "branches", None)
    if branches is None or branch not in branches:
        raise UserError(
            f"the model has no '{branch}' branch built by gennie",
            field="model",
            hint="filter motifs need a gennie model bundle with a seq branch",
        )
    blocks = list(branches[branch])
    if not blocks or getattr(blocks[0], "kind", None) != "conv":
        raise UserError(
            f"the '{branch}' branch does not start with a convolution",
            field="model",
            hint="filter motifs are read from a first convolution layer",
        )
    return blocks[0]


def filter_activations(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Activations of a conv block's filters (convolution and activation function).

    Args:
        block: The conv block.
        x: shape=(n, 4, L), one-hot.

    Returns:
        shape=(n, filters, L'), L' = the block's output length.
    """
    if "pad" in block._modules:
        x = block.pad(x)
    y = block.conv(x)
    if "activation" in block._modules:
        y = block.activation(y)
    return y


def _site_windows(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input window under every output position: shape=(n, 4, L', kernel_size)."""
    conv = block.conv
    left = block.pad.padding[0] if "pad" in block._modules else conv.padding[0]
    right = block.pad.padding[1] if "pad" in block._modules else conv.padding[0]
    x = torch.nn.functional.pad(x, (left, right))
    dilation, kernel = conv.dilation[0], conv.kernel_size[0]
    span = dilation * (kernel - 1) + 1
    return x.unfold(2, span, 1)[..., ::dilation]


@torch.no_grad()
def filter_motifs(
    network: torch.nn.Module,
    batches: Callable[[], Iterable[torch.Tensor]],
    threshold: float = 0.5,
    *,
    branch: str,
    total: int | None = None,
) -> list[FilterMotif]:
    """PWMs of the first-layer filters from their top-activating windows.

    Args:
        network: The network (eval mode is set here).
        batches: Called twice; each call yields one-hot batches, shape=(m, 4, L), on
            the network's device.
        threshold: Fraction of each filter's maximum activation a site must exceed.
        branch: The branch whose first convolution is read.
        total: Number of samples, for the progress bars.

    Returns:
        One :class:`FilterMotif` per filter, in filter order (influence not set).
    """
    network.eval()
    block = first_convolution(network, branch)
    filters, kernel = block.conv.out_channels, block.conv.kernel_size[0]
    maxima = None
    for x in track(batches(), None, "filter maxima", unit="batch"):
        top = filter_activations(block, x).amax(dim=(0, 2))
        maxima = top if maxima is None else torch.maximum(maxima, top)
    if maxima is None:
        raise UserError("no samples to scan", field="dataset")
    # A filter that never rises above zero has no sites (its cut would be <= 0).
    cut = torch.where(maxima > 0, threshold * maxima, torch.full_like(maxima, float("inf")))
    counts = torch.zeros(filters, 4, kernel, dtype=torch.float64, device=maxima.device)
    sites = torch.zeros(filters, dtype=torch.int64, device=maxima.device)
    progress = Progress(total, "filter sites", unit="sample")
    for x in batches():
        above = (filter_activations(block, x) > cut[None, :, None]).to(x.dtype)
        windows = _site_windows(block, x)
        counts += torch.einsum("nfl,nclk->fck", above, windows).double()
        sites += above.sum(dim=(0, 2)).long()
        progress.update(x.shape[0])
    progress.close()
    return [
        FilterMotif(
            filter=f,
            counts=counts[f].cpu().numpy(),
            sites=int(sites[f]),
            max_activation=float(maxima[f]),
        )
        for f in range(filters)
    ]


@torch.no_grad()
def filter_influence(
    network: torch.nn.Module,
    inputs: list[torch.Tensor],
    branch: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Basset-style nullification: the effect of replacing each filter by its mean.

    Args:
        network: The network (eval mode).
        inputs: One batch, one tensor per branch, shape=(n, C, L).
        branch: The branch whose first convolution is nullified.

    Returns:
        shape=(filters,), mean |change of the highest-class log-odds| per filter; and
        shape=(filters, classes), the mean fall of each class's log-odds (positive:
        the filter raises that class).
    """
    network.eval()
    block = first_convolution(network, branch)
    hooked = block.activation if "activation" in block._modules else block.conv
    reference = log_odds(network(*inputs).float())
    chosen = reference.argmax(dim=1, keepdim=True)
    base = reference.gather(1, chosen)
    state: dict[str, object] = {}

    def replace(_module, _args, output):
        state["mean"] = output.mean(dim=(0, 2)) if "mean" not in state else state["mean"]
        f = state.get("filter")
        if f is None:
            return output
        output = output.clone()
        output[:, f, :] = state["mean"][f]  # type: ignore[index]
        return output

    handle = hooked.register_forward_hook(replace)
    try:
        network(*inputs)  # records the mean activations
        effects, per_class = [], []
        for f in range(block.conv.out_channels):
            state["filter"] = f
            changed = log_odds(network(*inputs).float())
            effects.append(float((changed.gather(1, chosen) - base).abs().mean()))
            per_class.append((reference - changed).mean(dim=0).double().cpu().numpy())
    finally:
        handle.remove()
    return np.asarray(effects), np.asarray(per_class)


@torch.no_grad()
def class_activations(
    network: torch.nn.Module,
    batches: Callable[[], Iterable[torch.Tensor]],
    labels: np.ndarray,
    n_classes: int,
    branch: str,
) -> np.ndarray:
    """Each filter's mean highest activation over the samples of each class.

    Args:
        network: The network (eval mode).
        batches: Yields the one-hot batches of the scanned samples, in order.
        labels: shape=(n,), the class index of each scanned sample, in the same order.
        n_classes: Number of classes.
        branch: The branch whose first convolution is read.

    Returns:
        shape=(filters, classes); NaN for a class without scanned samples.
    """
    block = first_convolution(network, branch)
    sums = np.zeros((block.conv.out_channels, n_classes))
    offset = 0
    for x in batches():
        top = filter_activations(block, x).amax(dim=2).double().cpu().numpy()  # (n, filters)
        y = labels[offset : offset + len(top)]
        for k in range(n_classes):
            sums[:, k] += top[y == k].sum(axis=0)
        offset += len(top)
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def write_meme(
    path: Path,
    motifs: list[FilterMotif],
    alphabet: str = "dna",
    background: np.ndarray | None = None,
) -> Path:
    """Write motifs with sites in MEME format version 4.

    Args:
        path: The file to write.
        motifs: The filter motifs; those without sites are left out.
        alphabet: ``dna`` (ACGT) or ``rna`` (ACGU).
        background: Letter frequencies, shape=(4,) (default uniform).

    Returns:
        ``path``.
    """
    letters = LETTERS[alphabet]
    bg = np.full(4, 0.25) if background is None else np.asarray(background, dtype=float)
    lines = [
        "MEME version 4",
        "",
        f"ALPHABET= {letters}",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        " ".join(f"{a} {p:.4f}" for a, p in zip(letters, bg, strict=True)),
        "",
    ]
    for motif in motifs:
        if not motif.sites:
            continue
        pwm = motif.pwm
        lines += [
            f"MOTIF filter_{motif.filter} {motif.consensus(alphabet)}",
            f"letter-probability matrix: alength= 4 w= {pwm.shape[1]} nsites= {motif.sites} E= 0",
            *(" ".join(f"{v:.6f}" for v in column) for column in pwm.T),
            "",
        ]
    Path(path).write_text("\n".join(lines))
    return Path(path)


def database_problems(path: Path) -> list[UserError]:
    """Why a motif database cannot be read, as far as that shows without reading it.

    Args:
        path: The MEME file.

    Returns:
        A missing file, or nothing.
    """
    if Path(path).is_file():
        return []
    return [UserError("motif database not found", file=path, field="database")]


def read_database(path: Path) -> dict[str, np.ndarray]:
    """Motifs of a MEME file (memelite's reader): ``{name: pwm (4, width)}``.

    Raises:
        UserError: Missing, unreadable or empty file.
    """
    path = Path(path)
    problems = database_problems(path)
    if problems:
        raise problems[0]
    try:
        motifs = read_meme(str(path))
    except (OSError, ValueError, AttributeError, IndexError) as exc:
        raise UserError(
            f"cannot read the MEME file ({exc})",
            file=path,
            field="database",
            hint="give a MEME-format motif file (e.g. from JASPAR or ATtRACT)",
        ) from None
    if not motifs:
        raise UserError(
            "no motifs found in the file",
            file=path,
            field="database",
            hint="a MEME file has 'MOTIF' lines followed by letter-probability matrices",
        )
    return {name: np.asarray(pwm, dtype=np.float64) for name, pwm in motifs.items()}


def compare_with_database(
    motifs: list[FilterMotif], database: dict[str, np.ndarray], n_best: int = 5
) -> pd.DataFrame:
    """TOMTOM (memelite) matches of each filter motif with sites against a database.

    Args:
        motifs: The filter motifs.
        database: ``{name: pwm (4, width)}``.
        n_best: Matches kept per filter.

    Returns:
        Columns ``filter``, ``rank``, ``match``, ``p_value``, ``offset``, ``overlap``,
        ``strand`` (``+``/``-``); best match first per filter.
    """
    queried = [m for m in motifs if m.sites]
    columns = ["filter", "rank", "match", "p_value", "offset", "overlap", "strand"]
    if not queried:
        return pd.DataFrame(columns=columns)
    names = list(database)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p, _scores, offsets, overlaps, strands = tomtom(
            [m.pwm for m in queried], [database[n] for n in names], n_jobs=1
        )[:5]
    for w in caught:
        log.warning("TOMTOM: %s", w.message)
    rows = []
    for q, motif in enumerate(queried):
        for rank, t in enumerate(np.argsort(p[q], kind="stable")[:n_best], start=1):
            rows.append(
                {
                    "filter": motif.filter,
                    "rank": rank,
                    "match": names[t],
                    "p_value": float(p[q, t]),
                    "offset": int(offsets[q, t]),
                    "overlap": int(overlaps[q, t]),
                    "strand": "-" if strands[q, t] else "+",
                }
            )
    return pd.DataFrame(rows, columns=columns)


def write_filter_logos(
    folder: Path, motifs: list[FilterMotif], alphabet: str = "dna"
) -> list[Path]:
    """Information-content logos ``filter_<k>.png`` and ``.svg`` of filters with sites.

    Args:
        folder: Where to write (created if missing).
        motifs: The filter motifs; those without sites get no logo.
        alphabet: ``dna`` or ``rna``.

    Returns:
        The written files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    letters = list(LETTERS[alphabet])
    written = []
    drawn = [m for m in motifs if m.sites]
    for motif in track(drawn, len(drawn), "filter logos", unit="logo"):
        frame = pd.DataFrame(motif.pwm.T, columns=letters)
        info = logomaker.transform_matrix(frame, from_type="probability", to_type="information")
        # A bare Figure, not pyplot: no global backend or figure list in the caller's process.
        fig = Figure(figsize=(max(2.5, 0.45 * len(frame) + 1), 2.0))
        ax = fig.subplots()
        logomaker.Logo(info, ax=ax, color_scheme="classic")
        ax.set_ylim(0, 2)
        ax.set_ylabel("bits")
        ax.set_xticks(range(len(frame)), [str(i + 1) for i in range(len(frame))])
        supports = f", supports {motif.supports}" if motif.supports else ""
        ax.set_title(
            f"filter {motif.filter}: {motif.consensus(alphabet)} ({motif.sites} sites{supports})",
            fontsize=9,
        )
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        for suffix in ("png", "svg"):
            path = folder / f"filter_{motif.filter}.{suffix}"
            fig.savefig(path, dpi=100)
            written.append(path)
    return written


def motifs_table(
    motifs: list[FilterMotif], alphabet: str = "dna", matches: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The ``motifs.tsv`` table, most influential filter first."""
    table = pd.DataFrame(
        {
            "filter": [m.filter for m in motifs],
            "consensus": [m.consensus(alphabet) for m in motifs],
            "sites": [m.sites for m in motifs],
            "information_bits": [round(m.information, 4) for m in motifs],
            "max_activation": [round(m.max_activation, 6) for m in motifs],
            "influence": [round(m.influence, 6) for m in motifs],
            "supports": [m.supports for m in motifs],
            "logo": [f"{LOGOS_DIR}/filter_{m.filter}.png" if m.sites else "" for m in motifs],
        }
    )
    for name in motifs[0].effects if motifs else []:
        table[f"effect_{name}"] = [round(m.effects[name], 6) for m in motifs]
    for name in motifs[0].activations if motifs else []:
        table[f"activation_{name}"] = [round(m.activations[name], 6) for m in motifs]
    if matches is not None:
        best = matches[matches["rank"] == 1].set_index("filter")
        table["best_match"] = table["filter"].map(best["match"]).fillna("")
        table["match_p_value"] = table["filter"].map(best["p_value"])
    table = table.sort_values(["influence", "sites"], ascending=False, kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def check(config: MotifsConfig) -> list[UserError]:
    """The problems of a motifs configuration that show before the model is loaded.

    Args:
        config: The motifs configuration.

    Returns:
        Field-tagged user errors, in the order :func:`motifs` meets them (it raises
        the first): no model or no dataset given; a model folder that is no finished
        train run or has no bundle; a dataset folder that is no finished preprocess
        run; a missing motif database; no samples in the split.
    """
    problems = []
    if config.model is None:
        problems.append(UserError("no model given", field="model", hint="give --model RUN_DIR"))
    if config.dataset is None:
        problems.append(UserError("no dataset given", field="dataset", hint="give --dataset DIR"))
    if config.model is not None:
        problems += bundle_problems(Path(config.model))
    dataset = None
    if config.dataset is not None:
        try:
            dataset = Dataset(config.dataset, field="dataset")
        except UserError as exc:
            problems.append(exc)
    if config.database is not None:
        problems += database_problems(config.database)
    if dataset is not None and _scanned(config, dataset).size == 0:
        problems.append(
            UserError(
                f"the dataset has no {config.split} samples", file=dataset.path, field="split"
            )
        )
    return problems


def _scanned(config: MotifsConfig, dataset: Dataset) -> np.ndarray:
    """The samples of the configured split (all samples for ``all``)."""
    return np.arange(len(dataset)) if config.split == "all" else dataset.indices(config.split)


def _sample_indices(config: MotifsConfig, dataset: Dataset) -> np.ndarray:
    """The samples scanned: the split, or a seeded random subset of ``max_samples``."""
    indices = _scanned(config, dataset)
    if indices.size > config.max_samples:
        rng = np.random.default_rng(config.seed)
        indices = np.sort(rng.choice(indices, config.max_samples, replace=False))
    return indices


def _open_inputs(config: MotifsConfig) -> tuple[torch.nn.Module, BundleSpec, str, Dataset]:
    """The network, its spec, its sequence branch and the dataset, checked against
    each other.

    Raises:
        UserError: A model from an unfinished train run, a damaged bundle, a model
            without a sequence branch, or one that does not start with a convolution;
            a dataset that does not fit the model.
    """
    require_finished_model(Path(config.model))
    network, spec = load_bundle(Path(config.model))
    branch = sequence_branch(spec_encoders(spec))
    if branch is None:
        raise UserError(
            "the model has no sequence branch built by gennie",
            field="model",
            hint="filter motifs need a gennie model bundle with a seq branch",
        )
    first_convolution(network, branch)
    dataset = Dataset(config.dataset, field="dataset")
    try:
        check_dataset_fits(dataset, spec, field="dataset")
    except UserError as exc:
        raise UserError(exc.message, file=exc.file, field="dataset", hint=exc.hint) from None
    return network, spec, branch, dataset


def write_motifs(
    run_dir: Path,
    found: list[FilterMotif],
    alphabet: str,
    background: np.ndarray | None,
    database: dict[str, np.ndarray] | None,
) -> pd.DataFrame:
    """Write ``motifs.meme``, the logos, ``matches.tsv`` (with a database) and
    ``motifs.tsv``.

    Args:
        run_dir: The run folder.
        found: The filter motifs, influence set.
        alphabet: ``dna`` or ``rna``.
        background: Letter frequencies of the scanned samples, shape=(4,), or None.
        database: ``{name: pwm}`` to compare with, or None.

    Returns:
        The motifs table, most influential filter first.
    """
    write_meme(run_dir / MEME_FILE, found, alphabet, background)
    write_filter_logos(run_dir / LOGOS_DIR, found, alphabet)
    matches = None
    if database is not None:
        matches = compare_with_database(found, database)
        matches.to_csv(run_dir / MATCHES_FILE, sep="\t", index=False)
    table = motifs_table(found, alphabet, matches)
    table.to_csv(run_dir / MOTIFS_FILE, sep="\t", index=False)
    return table


def motifs(config: MotifsConfig) -> StageResult:
    """Run the ``motifs`` stage (see the module docstring).

    Args:
        config: The motifs configuration.

    Returns:
        The run folder and a summary (filters, filters with sites, the top filter's
        consensus and best match).

    Raises:
        UserError: Missing model or dataset, a model whose sequence branch does not
            start with a convolution, a dataset that does not fit the model, a bad database.
    """
    problems = check(config)
    if problems:
        raise problems[0]
    network, spec, sequence, dataset = _open_inputs(config)
    database = read_database(config.database) if config.database else None
    indices = _sample_indices(config, dataset)
    device = pick_device(config.device)
    network = network.to(device).eval()
    branches = list(spec.branches)
    alphabet = spec.preprocessing.alphabet

    def batches() -> Iterable[torch.Tensor]:
        for lo in range(0, len(indices), config.batch_size):
            x = dataset.inputs(indices[lo : lo + config.batch_size], [sequence])[0]
            yield torch.from_numpy(x).to(device)

    with run_folder(config) as run:
        found = filter_motifs(
            network, batches, config.threshold, branch=sequence, total=len(indices)
        )
        subset = indices[:2000]
        xs = [torch.from_numpy(a).to(device) for a in dataset.inputs(subset, branches)]
        effects, per_class = filter_influence(network, xs, sequence)
        labels = np.asarray(dataset.labels[indices], dtype=np.int64)
        activations = class_activations(network, batches, labels, len(dataset.classes), sequence)
        classes = list(dataset.classes)
        for motif, effect, signed, active in zip(
            found, effects, per_class, activations, strict=True
        ):
            motif.influence = float(effect)
            motif.effects = {spec.classes[k]: float(v) for k, v in enumerate(signed)}
            motif.activations = {c: float(active[k]) for k, c in enumerate(classes)}
        counts = np.zeros(4)
        for x in batches():
            counts += x.sum(dim=(0, 2)).double().cpu().numpy()
        background = counts / counts.sum() if counts.sum() else None
        table = write_motifs(run.dir, found, alphabet, background, database)
        top = table.iloc[0]
        run.summary.update(
            {
                "filters": len(found),
                "filters_with_sites": int(sum(m.sites > 0 for m in found)),
                "samples_scanned": int(len(indices)),
                "top_filter": int(top["filter"]),
                "top_consensus": str(top["consensus"]),
                "motifs_file": str(run.dir / MEME_FILE),
            }
        )
        if database is not None:
            run.summary["top_match"] = str(top.get("best_match", ""))
        run.summary["top_supports"] = str(top["supports"])
        message = (
            f"{len(found)} filters, {run.summary['filters_with_sites']} with sites; most "
            f"influential: filter {int(top['filter'])} {top['consensus']}"
            + (f" (supports {top['supports']})" if top["supports"] else "")
        )
        log.info(message)
        return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage, message=message)
