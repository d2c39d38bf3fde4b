"""The browser GUI (Streamlit) on top of the Python API.

Only this package imports Streamlit. :func:`streamlit_command` builds the command that
``gennie gui`` runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).parent / "app.py"
"""The Streamlit script of the GUI."""

PRIMARY_COLOUR = "#1f6f8b"
"""The theme's accent (buttons, focus outlines, sliders). Streamlit's default is red
(#ff4b4b), which made every focused field look like a field with an error."""


def streamlit_command(host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The command line that serves the GUI.

    Args:
        host: Address to bind to (127.0.0.1: this machine only).
        port: TCP port.

    Returns:
        ``python -m streamlit run app.py`` with server options.
    """
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
        "--theme.primaryColor",
        PRIMARY_COLOUR,
        # the forms give every widget its value both as its own default and, after a
        # button fills a field, through the session state (see gennie.gui.form)
        "--global.disableWidgetStateDuplicationWarning",
        "true",
    ]
