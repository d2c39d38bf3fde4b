"""The Variants page's own parts: a VCF upload beside the form, and the results of a
variants run (counts, the distribution of effects, the sortable table of effects, the
report with REF and ALT attributions)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from gennie.gui.common import relative, workspace
from gennie.gui.form import set_widget
from gennie.gui.runinfo import read_table
from gennie.runs import EFFECTS_PICTURE, REPORT_FILE, VARIANTS_FILE, VARIANTS_VCF

UPLOADS = "uploads"
"""Workspace folder where uploaded VCF files are saved."""

_STATUS_ORDER = ("scored", "ref_mismatch", "outside_sites", "skipped")


def vcf_upload(stage: str) -> None:
    """'…or upload a VCF': saves it in the workspace and puts its path into the form."""
    with st.expander("Upload a VCF instead of giving its path"):
        uploaded = st.file_uploader(
            "VCF file (plain or bgzipped)", type=["vcf", "gz", "bgz"], key=f"{stage}.vcf.upload"
        )
        if uploaded is None:
            return

        def save() -> None:
            folder = workspace() / UPLOADS
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / Path(uploaded.name).name
            target.write_bytes(uploaded.getvalue())
            set_widget(f"{stage}.vcf", relative(target))

        st.button("Use the uploaded VCF", key=f"{stage}.vcf.use", on_click=save)


def status_counts(table: pd.DataFrame) -> dict[str, int]:
    """Rows per status word (``skipped: reason`` counts as ``skipped``)."""
    words = table["status"].astype(str).str.split(":").str[0]
    return {s: int((words == s).sum()) for s in _STATUS_ORDER}


def show_variants(run_dir: Path, fit: Callable[[str], str] = str) -> None:
    """The results of a variants run.

    Args:
        run_dir: The run folder.
        fit: Makes a report page fit the width of its frame (the results view's).
    """
    table = read_table(run_dir / VARIANTS_FILE)
    if table is None:
        return
    st.markdown(f"#### Variant effects ({len(table):,} rows)")
    counts = status_counts(table)
    for column, (status, count) in zip(st.columns(len(counts)), counts.items(), strict=True):
        column.metric(status.replace("_", " "), f"{count:,}")
    picture = run_dir / EFFECTS_PICTURE
    if picture.is_file():
        st.image(str(picture), caption="Distribution of effects (ALT − REF probability)")
    shown = st.multiselect(
        "Show rows with status",
        list(_STATUS_ORDER),
        default=["scored"],
        key=f"variants.status:{run_dir}",
    )
    words = table["status"].astype(str).str.split(":").str[0]
    st.caption("Click a column title to sort (e.g. delta_<class> for the largest losses or gains).")
    st.dataframe(table[words.isin(shown)], hide_index=True, height=min(420, 40 + 35 * len(table)))
    for name in (VARIANTS_FILE, VARIANTS_VCF):
        path = run_dir / name
        if path.is_file():
            st.download_button(
                f"Download {name}", path.read_bytes(), file_name=name, key=f"dl-var:{path}"
            )
    report = run_dir / REPORT_FILE
    if report.is_file():
        st.markdown("#### Largest effects per class, with REF and ALT attributions")
        st.caption("Framed bases: changed by the variant. Red: raises the class score.")
        components.html(fit(report.read_text(errors="replace")), height=700, scrolling=True)
