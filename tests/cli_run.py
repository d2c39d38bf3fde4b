"""Running the installed ``gennie`` console script from tests."""

import subprocess
import sys
from pathlib import Path

GENNIE = Path(sys.executable).parent / "gennie"


def run_gennie(*args: object, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``gennie ARGS...`` and capture its output (text)."""
    return subprocess.run(
        [str(GENNIE), *(str(a) for a in args)], capture_output=True, text=True, timeout=timeout
    )
