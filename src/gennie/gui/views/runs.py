"""The Runs page: every run of the workspace with its results."""

from gennie.gui.runs_page import render_runs_page

render_runs_page()
