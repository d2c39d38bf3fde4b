"""The pictures of a variants run: the distribution of effects (``effects.png``) and
``report.html``, the variants with the largest effect on each class, each drawn as its
REF and ALT windows with their Integrated Gradients attributions towards that class
(the renderer of predict's report, :mod:`gennie.attribution.report`), the bases the
variant changed framed."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from gennie.attribution.attributions import SCORE_NAME, attribute, sequence_branch
from gennie.attribution.report import ReportSample, branch_views, page_head, sample_html
from gennie.config import VariantsConfig
from gennie.model.loading import LoadedModel
from gennie.variant_effects.scoring import Scorer, encode_inputs, window_batch
from gennie.variant_effects.table import EffectTable, TopEffect


def effects_figure(deltas: np.ndarray, classes: list[str]) -> Figure:
    """Histograms of the effects (ALT − REF probability), one panel per class.

    Args:
        deltas: shape=(n, K), the effects of the scored rows.
        classes: The class names.
    """
    fig = Figure(figsize=(4.2 * len(classes), 3.2))
    axes = fig.subplots(1, len(classes), squeeze=False)[0]
    for k, (ax, name) in enumerate(zip(axes, classes, strict=True)):
        values = deltas[:, k] if len(deltas) else np.zeros(0)
        ax.hist(values, bins=np.linspace(-1, 1, 81), color="#4c72b0", log=bool(len(values)))
        # Plain numbers on the log axis: mathtext labels (10^k) cost seconds to lay out.
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.axvline(0, color="#888", linewidth=0.6)
        ax.set_xlabel(f"ALT − REF probability of {name}")
        ax.set_title(f"{name}: {len(values):,} scored", fontsize=10, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel("variants (log scale)")
    fig.subplots_adjust(left=0.12 / len(classes), right=0.98, bottom=0.17, top=0.9, wspace=0.25)
    return fig


def write_effects_plot(path: Path, deltas: np.ndarray, classes: list[str]) -> bytes:
    """Write :func:`effects_figure` as a PNG; its bytes (for the report)."""
    buffer = io.BytesIO()
    effects_figure(deltas, classes).savefig(buffer, format="png", dpi=100)
    Path(path).write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _samples(
    scorer: Scorer, model: LoadedModel, config: VariantsConfig, name: str, tops: list[TopEffect]
) -> list[tuple[ReportSample, ReportSample]]:
    """REF and ALT attributions towards class ``name`` of its top variants."""
    tasks = [t.task for t in tops]
    ref = encode_inputs(scorer.encoders, window_batch(tasks, "ref"))
    alt = encode_inputs(scorer.encoders, window_batch(tasks, "alt"))
    classes = list(model.spec.classes)
    found = attribute(
        scorer.forward,
        [[np.concatenate([r, a]) for r, a in zip(ref, alt, strict=True)]],
        list(scorer.encoders),
        classes,
        target=name,
        steps=config.steps,
        outputs_are_probabilities=scorer.outputs_are_probabilities,
        device=scorer.device,
        seed=config.seed,
        sequence=sequence_branch(scorer.encoders),
    )
    n = len(tops)
    pairs = []
    for rank, top in enumerate(tops, start=1):
        drawn = []
        for j, (allele, probs) in enumerate(((" REF", top.ref), (" ALT", top.alt))):
            i = rank - 1 + j * n
            drawn.append(
                ReportSample(
                    section=name,
                    rank=rank,
                    row=top.row,
                    label=top.label + allele,
                    probabilities={c: float(probs[m]) for m, c in enumerate(classes)},
                    target=name,
                    score=float(found.scores[i, 0]),
                    baseline_score=float(found.baseline_scores[i, 0]),
                    delta=float(found.delta[i, 0]),
                    inputs={b: found.inputs[b][i] for b in found.branches},
                    values={b: found.values[b][i, 0] for b in found.branches},
                )
            )
        pairs.append((drawn[0], drawn[1]))
    return pairs


def _top_table(name: str, tops: list[TopEffect], classes: list[str]) -> str:
    """An HTML table of a class's top variants."""
    k = classes.index(name)
    head = (
        "<tr><th>#</th><th>row</th><th>variant</th><th>REF p</th><th>ALT p</th><th>delta</th></tr>"
    )
    body = "".join(
        f"<tr><td>{rank}</td><td>{t.row + 1}</td><td>{html.escape(t.label)}</td>"
        f"<td>{t.ref[k]:.4f}</td><td>{t.alt[k]:.4f}</td><td>{t.alt[k] - t.ref[k]:+.4f}</td></tr>"
        for rank, t in enumerate(tops, start=1)
    )
    return f'<table class="info">{head}{body}</table>'


def write_variant_report(
    path: Path,
    table: EffectTable,
    scorer: Scorer,
    model: LoadedModel,
    config: VariantsConfig,
    records: int,
    plot: bytes,
) -> Path:
    """Write ``report.html`` (see the module docstring).

    Args:
        path: The file to write.
        table: The run's effect table (counts, top effects).
        scorer: The model with its encoders.
        model: The loaded model (spec, class names).
        config: The run's configuration (steps, top, seed).
        records: VCF records read.
        plot: The PNG of the distribution of effects.
    """
    classes = list(model.spec.classes)
    meta = {
        "model": str(config.model),
        "VCF": str(config.vcf),
        "windows": f"{model.spec.window} bases, "
        + (f"site windows of {config.sites}" if config.sites else "centred on each variant"),
        "records": f"{records:,}",
        "rows": ", ".join(f"{k} {v:,}" for k, v in table.counts.items()),
        "attributions": f"Integrated Gradients of the {SCORE_NAME}, {config.steps} steps, "
        "zero baseline",
    }
    parts = [page_head("gennie variant effects", "Variant effects", meta)]
    picture = base64.b64encode(plot).decode()
    parts.append(
        f'<img class="logo" alt="distribution of effects" src="data:image/png;base64,{picture}">'
    )
    views = branch_views(scorer.encoders, model.spec.preprocessing.alphabet)
    gradients = isinstance(scorer.forward, torch.nn.Module)
    for name, tops in table.top_effects().items():
        parts.append(f"<h2>Largest effects on {html.escape(name)} ({len(tops)})</h2>")
        if not tops:
            parts.append("<p>No scored variants.</p>")
            continue
        parts.append(_top_table(name, tops, classes))
        if not gradients:
            parts.append("<p>No attributions: this model (ONNX) gives no gradients.</p>")
            continue
        for (ref, alt), top in zip(_samples(scorer, model, config, name, tops), tops, strict=True):
            parts.append(sample_html(ref, views, top.task.windows.ref_changed))
            parts.append(sample_html(alt, views, top.task.windows.alt_changed))
    parts.append("</body></html>")
    Path(path).write_text("\n".join(parts), encoding="utf-8")
    return Path(path)
