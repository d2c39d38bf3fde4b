"""Attribution views: a self-contained ``report.html`` and logomaker logos.

Each drawn sample shows every position of its window, wrapped into lines with position
numbers, one row per branch. What a branch shows comes from its encoder
(:meth:`~gennie.encode.base.BranchEncoder.channel_letters`), gathered in a
:class:`BranchView`:

- a branch with a letter per channel (``seq``: the bases; ``fold``: dot-bracket,
  ``(`` paired with a partner downstream, ``)`` with one upstream, ``.`` unpaired):
  the letter of its strongest channel, or a blank where no channel is set (``N`` in
  the sequence);
- one-channel branches (``cons`` and other signal tracks): the value itself;
- any other branch: the index of its strongest channel.

The background of each position is its attribution (summed over channels) on a
diverging scale centred on zero: red positive (towards the attributed class), blue
negative, white zero. The scale of each sample is symmetric, ±(its largest absolute
position attribution over all branches), and printed with the sample, so the branches
of one sample are comparable. Hovering a position shows the exact numbers.

The HTML needs no network: styles are inline and the logos are embedded as PNG data.
The logos are also written to ``logos/`` as PNG and SVG, one figure per sample with one
panel per branch (letter logos for branches with letters: letter height = attribution
of that channel; bars for the others).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import logomaker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gennie.attribution.attributions import SCORE_NAME, sequence_branch
from gennie.dataset.names import safe_file_name
from gennie.encode import BranchEncoder

_RED = np.array([202, 0, 32])
_BLUE = np.array([5, 113, 176])
_WHITE = np.array([255, 255, 255])


@dataclass(frozen=True)
class BranchView:
    """How one branch is drawn.

    Attributes:
        name: The branch.
        letters: One letter per input channel, or None (drawn as values).
        blank: Shown where no channel is set.
        logo_colours: logomaker colour scheme of the branch's letter logo.
    """

    name: str
    letters: tuple[str, ...] | None = None
    blank: str = " "
    logo_colours: str = "dimgray"

    def letters_for(self, channels: int) -> tuple[str, ...] | None:
        """The letters, if there is one for each of ``channels`` channels."""
        return self.letters if self.letters and len(self.letters) == channels else None


def branch_views(encoders: Mapping[str, BranchEncoder], alphabet: str = "dna") -> list[BranchView]:
    """How each branch of a model is drawn, asked of its encoder.

    Args:
        encoders: The model's branch encoders, in input order.
        alphabet: ``dna`` or ``rna``.

    Returns:
        One view per branch, in input order: the sequence branch (see
        :func:`~gennie.attribution.attributions.sequence_branch`) shows ``N`` where no
        base is set and draws its logo in the classic base colours.
    """
    sequence = sequence_branch(encoders)
    views = []
    for name, encoder in encoders.items():
        letters = encoder.channel_letters(alphabet)
        views.append(
            BranchView(
                name,
                tuple(letters) if letters else None,
                "N" if name == sequence else " ",
                "classic" if name == sequence else "dimgray",
            )
        )
    return views


@dataclass
class ReportSample:
    """One sample drawn in the report.

    Attributes:
        section: The class whose top predictions this sample belongs to.
        rank: 1-based rank by that class's probability.
        row: 0-based data row in ``predictions.tsv``.
        label: Human description (coordinates, header or sequence number).
        probabilities: ``{class: probability}``.
        target: The attributed class.
        score: Target log-odds at the input.
        baseline_score: Target log-odds at the baseline.
        delta: Completeness error.
        inputs: Per branch, shape=(C, L), the network input.
        values: Per branch, shape=(C, L), the attributions.
    """

    section: str
    rank: int
    row: int
    label: str
    probabilities: dict[str, float]
    target: str
    score: float
    baseline_score: float
    delta: float
    inputs: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    logo_png: bytes = field(default=b"", repr=False)

    @property
    def stem(self) -> str:
        """File name stem of the sample's logo: ``<class>_<rank>_row<n>``, ``n`` the
        1-based row number that the report and the logo's title show (``row + 1``);
        the class name made a safe file name (it comes from the model, see
        :func:`~gennie.dataset.names.safe_file_name`)."""
        return f"{safe_file_name(self.section)}_{self.rank:02d}_row{self.number}"

    @property
    def number(self) -> int:
        """The 1-based row number shown in titles and file names."""
        return self.row + 1


def colour(value: float, scale: float) -> str:
    """Diverging colour of an attribution: blue (negative) – white (0) – red (positive).

    Args:
        value: The attribution.
        scale: The magnitude drawn at full colour (values beyond it are clipped).

    Returns:
        A CSS colour ``#rrggbb``.
    """
    t = 0.0 if scale <= 0 else float(np.clip(value / scale, -1.0, 1.0))
    end = _RED if t >= 0 else _BLUE
    rgb = np.rint(_WHITE + abs(t) * (end - _WHITE)).astype(int)
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def branch_symbols(view: BranchView, x: np.ndarray) -> list[str]:
    """What to print at each position of a branch input (see the module docstring).

    Args:
        view: How the branch is drawn.
        x: shape=(C, L), the input.

    Returns:
        L short strings.
    """
    channels, length = x.shape
    letters = view.letters_for(channels)
    if letters:
        chars = np.array([*letters, view.blank])
        codes = np.where(x.max(axis=0) >= 0.5, x.argmax(axis=0), channels)
        return list(chars[codes])
    if channels == 1:
        return [_short_number(v) for v in x[0]]
    return [str(int(c)) for c in x.argmax(axis=0)]


def _short_number(value: float) -> str:
    """At most four characters: ``.53``, ``-.5``, ``1.2``, ``12``, ``0``."""
    if value == 0:
        return "0"
    if abs(value) >= 9.95:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}"
    text = f"{value:.2f}" if value > 0 else f"{value:.1f}"
    return text.replace("0.", ".", 1)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em;
color:#222}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
h3{font-size:1em;margin:1.4em 0 .3em}
.meta{font-size:.85em;color:#444;margin:.2em 0 .6em}
.line{margin:.35em 0 .6em;font-family:ui-monospace,Menlo,Consolas,monospace}
.r{display:flex;align-items:stretch;height:1.35em}
.lab{width:3.6em;flex:none;font-size:.75em;color:#555;align-self:center}
.c{flex:none;text-align:center;font-size:.9em;line-height:1.35em;overflow:visible}
.num .c{font-size:.65em;color:#777;text-align:left;white-space:nowrap}
.val .c{font-size:.6em}
.legend{display:flex;align-items:center;gap:.5em;font-size:.85em}
.bar{width:14em;height:.9em;border:1px solid #999;
background:linear-gradient(to right,#0571b0,#ffffff,#ca0020)}
img.logo{max-width:100%;margin:.3em 0 .8em}
table.info{border-collapse:collapse;font-size:.85em}
table.info td{padding:.1em .8em .1em 0}
"""


def tracks(
    view: BranchView, x: np.ndarray, values: np.ndarray
) -> list[tuple[str, list[str], np.ndarray, np.ndarray | None]]:
    """The rows drawn for one branch of one sample.

    A branch with a letter per channel is one row of symbols; every other branch gets
    one row of values per channel (``cons`` with two tracks → ``cons1``, ``cons2``).

    Args:
        view: How the branch is drawn.
        x: shape=(C, L), the input.
        values: shape=(C, L), the attributions.

    Returns:
        ``(label, symbols, attribution per position, raw values or None)`` per row.
    """
    channels = x.shape[0]
    branch = view.name
    if view.letters_for(channels):
        return [(branch, branch_symbols(view, x), values.sum(axis=0), None)]
    return [
        (
            branch if channels == 1 else f"{branch}{c + 1}",
            [_short_number(v) for v in x[c]],
            values[c],
            x[c],
        )
        for c in range(channels)
    ]


def sample_html(
    sample: ReportSample, views: list[BranchView], highlight: np.ndarray | None = None
) -> str:
    """One sample's section of a report: its title, numbers and attribution tracks.

    Args:
        sample: The sample.
        views: How each branch is drawn (see :func:`branch_views`).
        highlight: shape=(L,), bool: positions drawn framed (e.g. the bases a variant
            changed), or None.

    Returns:
        An HTML ``<section>``.
    """
    rows = [
        row
        for view in views
        for row in tracks(view, sample.inputs[view.name], sample.values[view.name])
    ]
    scale = max((float(np.abs(r[2]).max()) for r in rows), default=0.0)
    numeric = any(r[3] is not None for r in rows)
    width = "2.1rem" if numeric else "1.15rem"
    per_line = 40 if numeric else 60
    length = rows[0][2].shape[0]
    probs = "  ".join(f"p({html.escape(k)}) = {v:.4f}" for k, v in sample.probabilities.items())
    out = [
        f'<section class="sample" id="{html.escape(sample.stem)}">',
        f"<h3>#{sample.rank} {html.escape(sample.section)} — row {sample.number} — "
        f"{html.escape(sample.label)}</h3>",
        f'<div class="meta">{probs}<br>attributed: {html.escape(sample.target)} '
        f"{SCORE_NAME} {sample.score:.4f} (baseline {sample.baseline_score:.4f}); "
        f"completeness error {sample.delta:.2e}; colour scale ±{scale:.4g}</div>",
    ]
    for lo in range(0, length, per_line):
        hi = min(lo + per_line, length)
        out.append('<div class="line">')
        cells = "".join(
            f'<span class="c" style="width:{width}">'
            + (str(p + 1) if (p + 1) % 10 == 0 or p == lo else "")
            + "</span>"
            for p in range(lo, hi)
        )
        out.append(f'<div class="r num"><span class="lab">pos</span>{cells}</div>')
        for label, symbols, attribution, raw in rows:
            kind = "sym" if raw is None else "val"
            row_cells = []
            for p in range(lo, hi):
                a = float(attribution[p])
                shown = symbols[p]
                full = shown.strip() or "none" if raw is None else f"{float(raw[p]):.4g}"
                title = f"{label} position {p + 1}: {full}; attribution {a:.4g}"
                style = f"width:{width};background:{colour(a, scale)}"
                if highlight is not None and highlight[p]:
                    style += ";outline:2px solid #000;outline-offset:-2px;font-weight:bold"
                    title += "; changed by the variant"
                if scale > 0 and abs(a) / scale > 0.65:
                    style += ";color:#fff"
                row_cells.append(
                    f'<span class="c" style="{style}" title="{html.escape(title)}">'
                    f"{html.escape(shown) if shown.strip() else '&nbsp;'}</span>"
                )
            out.append(
                f'<div class="r {kind}"><span class="lab">{html.escape(label)}</span>'
                + "".join(row_cells)
                + "</div>"
            )
        out.append("</div>")
    if sample.logo_png:
        data = base64.b64encode(sample.logo_png).decode()
        out.append(f'<img class="logo" alt="attribution logo" src="data:image/png;base64,{data}">')
    out.append("</section>")
    return "\n".join(out)


def write_report(
    path: Path,
    samples: list[ReportSample],
    views: list[BranchView],
    meta: dict[str, str],
) -> Path:
    """Write the self-contained HTML report.

    Args:
        path: The ``report.html`` to write.
        samples: The samples, grouped by section (class) in the order given.
        views: How each branch is drawn, in the order their rows are drawn (see
            :func:`branch_views`).
        meta: Settings shown at the top (model, baseline, steps, ...).

    Returns:
        ``path``.
    """
    parts = [
        page_head("gennie attributions", "Integrated Gradients attributions", meta),
        f"<p class='meta'>Each position's colour is its attribution to the {SCORE_NAME} of "
        "the attributed class, summed over the branch's channels, on a scale centred on "
        "zero (red: evidence for the class, blue: against). The scale of each sample is "
        "± its largest position attribution. Hover a position for the numbers.</p>",
    ]
    sections: dict[str, list[ReportSample]] = {}
    for sample in samples:
        sections.setdefault(sample.section, []).append(sample)
    if sections:
        parts.append(
            "<p>Sections: "
            + ", ".join(f'<a href="#class-{html.escape(s)}">{html.escape(s)}</a>' for s in sections)
            + "</p>"
        )
    for section, members in sections.items():
        parts.append(
            f'<h2 id="class-{html.escape(section)}">Top {len(members)} predictions of '
            f"{html.escape(section)}</h2>"
        )
        parts.extend(sample_html(s, views) for s in members)
    if not sections:
        parts.append("<p>No samples to show.</p>")
    parts.append("</body></html>")
    Path(path).write_text("\n".join(parts), encoding="utf-8")
    return Path(path)


def page_head(title: str, heading: str, meta: dict[str, str]) -> str:
    """The start of a report page: its styles, heading, settings table and colour legend
    (the caller adds the sections and ``</body></html>``).

    Args:
        title: The page's title.
        heading: Its heading.
        meta: Settings shown at the top.
    """
    info = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in meta.items()
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(heading)}</h1>",
            f'<table class="info">{info}</table>',
            '<p class="legend"><span>negative</span><span class="bar"></span>'
            "<span>positive</span></p>",
        ]
    )


def logo_figure(sample: ReportSample, views: list[BranchView]) -> Figure:
    """A matplotlib figure with one attribution panel per branch.

    Args:
        sample: The sample.
        views: How each branch is drawn, in panel order.

    Returns:
        The figure (the caller saves it).
    """
    length = sample.values[views[0].name].shape[1]
    # A bare Figure, not pyplot: no global backend or figure list in the caller's process.
    fig = Figure(figsize=(min(max(6.0, length / 8), 40.0), 1.7 * len(views) + 0.4))
    axes = fig.subplots(len(views), 1, squeeze=False, sharex=True)
    positions = np.arange(1, length + 1)
    for ax, view in zip(axes[:, 0], views, strict=True):
        values = sample.values[view.name]
        letters = view.letters_for(values.shape[0])
        if letters:
            frame = pd.DataFrame(values.T, columns=list(letters), index=positions)
            logomaker.Logo(frame, ax=ax, color_scheme=view.logo_colours)
        else:
            total = values.sum(axis=0)
            ax.bar(positions, total, width=0.9, color=np.where(total >= 0, "#ca0020", "#0571b0"))
        ax.axhline(0, color="#888", linewidth=0.5)
        ax.set_ylabel(view.name)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0, 0].set_title(
        f"#{sample.rank} {sample.section}, row {sample.number}: {sample.label} — "
        f"attribution to {SCORE_NAME}({sample.target})",
        fontsize=9,
        loc="left",
    )
    axes[-1, 0].set_xlabel("position")
    fig.tight_layout()
    return fig


def write_logos(folder: Path, samples: list[ReportSample], views: list[BranchView]) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg`` per sample into ``folder``; keep the PNG
    bytes on each sample for embedding in the report.

    Args:
        folder: Where to write (created if missing).
        samples: The samples.
        views: How each branch is drawn (see :func:`branch_views`).

    Returns:
        The written files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for sample in samples:
        fig = logo_figure(sample, views)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        sample.logo_png = buffer.getvalue()
        png = folder / f"{sample.stem}.png"
        png.write_bytes(sample.logo_png)
        svg = folder / f"{sample.stem}.svg"
        fig.savefig(svg, format="svg")
        written += [png, svg]
    return written
