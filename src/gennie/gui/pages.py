"""The GUI's pages, generated from the stage registry.

One page per CLI command word in pipeline order: a stage reached by one word
(``gennie train``) gets its own page titled with the stage's title; the stages of a
command group (``gennie interpret motifs``, ``gennie interpret ism``) share one page
named after the group, where the user picks one. A Runs page comes last. Adding a
stage to :data:`gennie.config.STAGES` adds its page. :mod:`gennie.gui.navigation`
draws them.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from gennie.config import STAGES

RUNS = "runs"
"""Address of the Runs page."""

GOTO = "_goto_page"
"""Session key of the page a button asked to open."""


@dataclass(frozen=True)
class PageSpec:
    """One page of the GUI.

    Attributes:
        url: Its address (the command word; ``runs`` for the Runs page).
        title: Its title in the navigation and at its top.
        stages: The stages it runs: one, or the stages of a command group; none for
            the Runs page.
        icon: Its Material icon (numbered in pipeline order).
    """

    url: str
    title: str
    stages: tuple[str, ...]
    icon: str


def page_table() -> tuple[PageSpec, ...]:
    """Every page, in pipeline order, the Runs page last."""
    groups: dict[str, list[str]] = {}
    for name, stage in STAGES.items():
        groups.setdefault(stage.command[0], []).append(name)
    pages = []
    for number, (word, names) in enumerate(groups.items(), start=1):
        single = len(names) == 1 and len(STAGES[names[0]].command) == 1
        title = STAGES[names[0]].title if single else word.capitalize()
        icon = f":material/filter_{number}:" if number <= 9 else ":material/filter_9_plus:"
        pages.append(PageSpec(word, title, tuple(names), icon))
    pages.append(PageSpec(RUNS, "Runs", (), ":material/folder_open:"))
    return tuple(pages)


def page_of(stage: str) -> PageSpec:
    """The page that runs a stage."""
    return next(page for page in page_table() if stage in page.stages)


def go_to(url: str) -> None:
    """Ask for the page at ``url`` to be opened on the next run of the app (a button
    callback; pages switch in :func:`gennie.gui.navigation.navigation`)."""
    st.session_state[GOTO] = url
