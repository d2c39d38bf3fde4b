"""The Search page: hyper-parameter and architecture search (gennie tune)."""

from gennie.gui.stage_page import render_stage_page

render_stage_page("tune")
