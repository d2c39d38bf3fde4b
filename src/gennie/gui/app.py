"""The gennie GUI (Streamlit): ``gennie gui`` runs ``streamlit run`` on this file.

One page per stage (or group of stages) of :data:`gennie.config.STAGES` and a Runs
page (see :mod:`gennie.gui.pages`). The pages are thin: forms come from the
configuration models, work runs as background jobs (:mod:`gennie.jobs`), results are
read from the run folders (:mod:`gennie.runs`).
"""

import streamlit as st

from gennie.gui.navigation import navigation

st.set_page_config(page_title="gennie", page_icon=":material/genetics:", layout="wide")
navigation()
