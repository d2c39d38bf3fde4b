"""The Predict page."""

from gennie.gui.stage_page import render_stage_page

render_stage_page("predict")
