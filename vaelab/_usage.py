"""Usage errors of vaelab's commands (``vaelab``, ``vaelab grade``): one line, exit status 2.

Both command lines raise ``UsageError`` for what a user can fix (a bad option, a missing
file) and print it as one line, without a traceback; ``Parser`` makes argparse's own errors
UsageErrors too. It lives apart so that ``vaelab.cli`` and ``vaelab.grade`` share it
without importing each other.
"""

from __future__ import annotations

import argparse

__all__ = ["Parser", "UsageError"]


class UsageError(Exception):
    """A problem with the command line or the files it names; printed as one line."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise ``UsageError`` (one line) instead of printing
    the usage and exiting."""

    def error(self, message: str) -> None:
        raise UsageError(f"{message} (see `{self.prog} --help`)")
