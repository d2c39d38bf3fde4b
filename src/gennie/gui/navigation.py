"""The app's navigation: one Streamlit page per entry of the page table
(:func:`gennie.gui.pages.page_table`), and page switches asked for by buttons."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from gennie.gui.pages import GOTO, RUNS, page_table
from gennie.gui.runs_page import render_runs_page
from gennie.gui.stage_page import render_group_page, render_stage_page


def render_page(url: str) -> None:
    """Draw the page at ``url``."""
    page = next(page for page in page_table() if page.url == url)
    if page.url == RUNS:
        render_runs_page()
    elif len(page.stages) == 1:
        render_stage_page(page.stages[0])
    else:
        render_group_page(page.title, page.stages)


def _renderer(url: str) -> Callable[[], None]:
    def render() -> None:
        render_page(url)

    return render


def streamlit_page(url: str) -> st.Page:
    """The Streamlit page at ``url`` (also what :func:`st.switch_page` takes)."""
    table = page_table()
    index, page = next((i, p) for i, p in enumerate(table) if p.url == url)
    return st.Page(
        _renderer(url), title=page.title, icon=page.icon, url_path=page.url, default=index == 0
    )


def navigation() -> None:
    """Draw the navigation, switch page if a button asked for it, run the page.

    The switch happens here, outside the pages: a switch from inside a fragment that
    re-runs on a timer (the job cards) can leave the page blank.
    """
    current = st.navigation([streamlit_page(page.url) for page in page_table()])
    target = st.session_state.pop(GOTO, None)
    if target:
        st.switch_page(streamlit_page(target))
    current.run()
