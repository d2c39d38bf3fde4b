"""The gennie GUI (Streamlit): ``gennie gui`` runs ``streamlit run`` on this file.

One page per module (Preprocess, Train, Evaluate, Predict, Interpret, Search) and a
Runs page. The pages are thin: forms come from the configuration models, work runs as
background jobs (:mod:`gennie.gui.jobs`), results are read from the run folders.
"""

from pathlib import Path

import streamlit as st

from gennie.config import STAGES

st.set_page_config(page_title="gennie", page_icon=":material/genetics:", layout="wide")

VIEWS = Path(__file__).parent / "views"
pages = [
    st.Page(VIEWS / "preprocess.py", title="Preprocess", icon=":material/filter_1:", default=True),
    st.Page(VIEWS / "train.py", title="Train", icon=":material/filter_2:"),
    st.Page(VIEWS / "evaluate.py", title="Evaluate", icon=":material/filter_3:"),
    st.Page(VIEWS / "predict.py", title="Predict", icon=":material/filter_4:"),
]
if "motifs" in STAGES or "ism" in STAGES:
    pages.append(
        st.Page(VIEWS / "interpret.py", title="Interpret", icon=":material/search_insights:")
    )
if "tune" in STAGES:
    pages.append(st.Page(VIEWS / "search.py", title="Search", icon=":material/tune:"))
pages.append(st.Page(VIEWS / "runs.py", title="Runs", icon=":material/folder_open:"))
st.navigation(pages).run()
