"""The Interpret page: motifs learned by the filters, or in-silico mutagenesis."""

import streamlit as st

from gennie.config import STAGES
from gennie.gui.common import sidebar
from gennie.gui.stage_page import render_stage_page

sidebar()
st.title("Interpret")
st.write(
    "See what a trained model learned. Attributions of single predictions (Integrated "
    "Gradients) are an option of the Predict and Evaluate pages."
)
choices = {"motifs": "Motifs of the first-layer filters", "ism": "In-silico mutagenesis"}
available = [s for s in choices if s in STAGES]
if not available:
    st.info("This version of gennie has no interpretation commands.")
else:
    stage = st.radio(
        "What to compute",
        available,
        format_func=choices.get,
        key="interpret.stage",
        horizontal=True,
    )
    render_stage_page(stage, embedded=True)
