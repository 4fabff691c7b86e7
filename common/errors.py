"""User errors and how entry scripts report them.

A :class:`UserError` is bad input (a missing file, a wrong flag, a snapshot of the other variant): its message names
the file, key or flag and says how to fix it.  Entry scripts run through :func:`run_reporting_user_errors`, which
prints such an error as one ``error: ...`` line and exits with status 1; ``--debug`` shows the traceback instead.
Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import sys
from typing import Callable


class UserError(Exception):
    """Bad input from the user; the message names the file, key or flag and the fix."""


def run_reporting_user_errors(fn: Callable[[], object], debug: bool = False) -> int:
    """Run ``fn()``; a :class:`UserError` becomes one ``error:`` line on stderr and status 1 (re-raised when
    ``debug``).  Returns the process exit status (0 on success)."""
    try:
        fn()
    except UserError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
