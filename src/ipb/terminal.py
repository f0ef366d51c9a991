"""What the `ipb` commands share about the terminal: the front door's two consoles, the `IPB_DEBUG` switch, and
whether stderr is already `ipb run`'s log file. The front door (`ipb.cli`) and `ipb run`'s worker
(`ipb.orchestration.cli`, which points these consoles elsewhere) both read it here, so neither imports the other."""

from __future__ import annotations

import os

from rich.console import Console

from ipb import config

DEBUG_ENV = "IPB_DEBUG"
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
# Set by `ipb run`'s worker once its stderr is the run's log file (tracebacks may go there, not to the console).
stderr_is_run_log = False


def debug_enabled() -> bool:
    """`IPB_DEBUG=1`: tracebacks and the libraries' console output instead of one clear line."""
    return config._truthy(os.environ.get(DEBUG_ENV))
