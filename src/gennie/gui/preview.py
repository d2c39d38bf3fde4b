"""The preview of labelled input files, shown above Run on the Preprocess and Evaluate
pages: the first records with the label read from each and its class, the records per
class, and what would stop the run (a header without a label with the suggested
``--label-pattern``, a missing column, chromosomes the genome does not have, labels
that are no class of the model).

The files are read as the stage reads them (:func:`gennie.dataset.labelled.preview_labelled`);
nothing here decides what a label is. A file is read again only when it or the label
options change.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from gennie.config import STAGES
from gennie.config.stages import LabelOptions, is_custom_model
from gennie.dataset.labelled import LabelledPreview, preview_labelled
from gennie.errors import UserError
from gennie.gui.fields import LARGE, problem_text, resolve_path
from gennie.io.fasta import Genome
from gennie.io.tracks import chrom_alias

PREVIEW_ROWS = 8
"""Records shown in the preview table."""

IMBALANCE = 3
"""A largest class with this many times the records of the smallest is flagged."""


@dataclass
class InputPreview:
    """The preview of a page's labelled input files.

    Attributes:
        files: The files read.
        preview: What they hold, or None when they cannot be read.
        problems: What would stop the run (a file that cannot be read, chromosomes
            the genome lacks, labels that are no class of the model).
        notes: What the user may want to know (class imbalance, a large file).
    """

    files: list[Path]
    preview: LabelledPreview | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def has_preview(stage: str) -> bool:
    """Whether a stage's page previews its input files (it reads labelled files)."""
    config = STAGES[stage].config
    return issubclass(config, LabelOptions) and "input" in config.model_fields


def _label_options(values: dict[str, Any]) -> LabelOptions | None:
    """The label options of the page (None while one of them is invalid: the field
    shows why)."""
    given = {k: values[k] for k in LabelOptions.model_fields if values.get(k) is not None}
    try:
        return LabelOptions.model_validate(given)
    except ValidationError:
        return None


def _stamp(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=16)
def _read(
    stamps: tuple[tuple[str, int, int], ...], options: str, classes: tuple[str, ...] | None
) -> LabelledPreview | UserError:
    """The preview of files as they are now (keyed by their size and time)."""
    try:
        return preview_labelled(
            [Path(s[0]) for s in stamps],
            LabelOptions.model_validate_json(options),
            classes=list(classes) if classes is not None else None,
            rows=PREVIEW_ROWS,
        )
    except UserError as exc:
        return exc


@functools.lru_cache(maxsize=4)
def _genome_names(stamp: tuple[str, int, int]) -> frozenset[str] | None:
    """The sequence names of a genome: from its index, or by indexing it (as
    preprocess would); None when it cannot be read (the genome field says why)."""
    path = Path(stamp[0])
    fai = Path(f"{path}.fai")
    if fai.is_file():
        with open(fai, encoding="utf-8", errors="replace") as handle:
            return frozenset(line.split("\t", 1)[0] for line in handle if line.strip())
    if stamp[2] > LARGE:
        return None
    try:
        return frozenset(Genome(path).chrom_lengths)
    except UserError:
        return None


def _model_classes(values: dict[str, Any], workspace: Path) -> tuple[str, ...] | None:
    """The class names of the page's model (evaluate), when it is a readable bundle or
    a custom model with its classes given."""
    model = values.get("model")
    if not model:
        return None
    if is_custom_model(model):
        return tuple(values.get("custom_classes") or ()) or None
    # imported here: the bundle module loads torch, needed only with a model
    from gennie.model.bundle import find_bundle, read_bundle_spec

    try:
        return tuple(read_bundle_spec(find_bundle(resolve_path(model, workspace))).classes)
    except (UserError, OSError):
        return None


def absent_chromosomes(chromosomes: dict[str, int], names: frozenset[str]) -> str | None:
    """A message naming the chromosomes of the intervals that the genome lacks (with
    the genome's name for one named the other way, ``chr1`` ↔ ``1``), or None."""
    absent = {c: n for c, n in chromosomes.items() if c not in names}
    if not absent:
        return None
    listed = []
    for chrom, count in sorted(absent.items()):
        alias = chrom_alias(chrom, set(names))
        listed.append(f"{chrom} ({count}" + (f"; the genome has {alias})" if alias else ")"))
    shown = ", ".join(listed[:10]) + (f" and {len(listed) - 10} more" if len(listed) > 10 else "")
    return (
        f"{sum(absent.values())} intervals lie on chromosomes the genome does not have: "
        f"{shown}. Use the genome the coordinates refer to, or rename the chromosomes."
    )


def input_preview(stage: str, values: dict[str, Any], workspace: Path) -> InputPreview | None:
    """The preview of the page's input files, or None when there is nothing to show
    (no input, a file that is not there yet: its field says so, invalid label
    options: their field says why).

    Args:
        stage: The page's stage (see :func:`has_preview`).
        values: The page's values as the form holds them.
        workspace: Folder that relative paths are taken from.
    """
    if not has_preview(stage):
        return None
    given = values.get("input")
    given = [given] if isinstance(given, (str, Path)) else list(given or [])
    files = [resolve_path(v, workspace) for v in given if str(v).strip()]
    if not files or not all(f.is_file() for f in files):
        return None
    options = _label_options(values)
    if options is None:
        return None
    result = InputPreview(files)
    large = [f.name for f in files if f.stat().st_size > LARGE]
    if large:
        result.notes.append(
            f"{', '.join(large)}: too large to preview here; read when the run starts."
        )
        return result
    classes = _model_classes(values, workspace) if "model" in values else None
    found = _read(tuple(_stamp(f) for f in files), options.model_dump_json(), classes)
    if isinstance(found, UserError):
        result.problems.append(problem_text(found))
        return result
    result.preview = found
    _add_findings(result, values, workspace)
    return result


def _add_findings(result: InputPreview, values: dict[str, Any], workspace: Path) -> None:
    """Problems and notes about what the files hold: unknown labels, chromosomes the
    genome lacks, and (for a dataset to train on) class imbalance."""
    preview = result.preview
    assert preview is not None
    if preview.unknown:
        result.problems.append(
            f"label(s) {', '.join(preview.unknown)} are no class of the model; name the "
            "model's class of each label under Label map (LABEL=CLASS)"
        )
    genome = values.get("genome")
    if preview.chromosomes and genome:
        path = resolve_path(genome, workspace)
        names = _genome_names(_stamp(path)) if path.is_file() else None
        message = absent_chromosomes(preview.chromosomes, names) if names else None
        if message:
            result.problems.append(message)
    counts = [n for n in preview.counts.values() if n]
    if "model" not in values and len(counts) > 1 and max(counts) >= IMBALANCE * min(counts):
        result.notes.append(
            f"The classes are imbalanced ({max(counts) / min(counts):.1f}:1); consider "
            "class weights (balanced) when training."
        )


def show_preview(stage: str, values: dict[str, Any], workspace: Path) -> InputPreview | None:
    """Draw the preview of the page's input files (see :func:`input_preview`)."""
    result = input_preview(stage, values, workspace)
    if result is None:
        return None
    st.subheader("Input preview")
    for problem in result.problems:
        st.error(problem, icon=":material/error:")
    preview = result.preview
    if preview is not None:
        what = "sequences" if preview.format == "fasta" else "intervals"
        low, median, high = preview.lengths
        forms = "; ".join(f"{Path(f).name}: {form}" for f, form in preview.forms.items())
        st.caption(
            f"{preview.total:,} {what}, lengths {low}–{high} (median {median}). "
            f"Labels read from {forms}."
        )
        counts = pd.DataFrame(
            {"class": list(preview.counts), "records": list(preview.counts.values())}
        )
        left, right = st.columns([1, 3])
        with left:
            st.markdown("**Records per class**")
            st.table(counts.set_index("class"))
        with right:
            st.markdown(f"**First {len(preview.rows)} records**")
            st.dataframe(pd.DataFrame(preview.rows), hide_index=True)
    for note in result.notes:
        st.info(note, icon=":material/info:")
    return result
