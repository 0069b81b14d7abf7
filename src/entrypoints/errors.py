"""Errors the command line reports as one line (entrypoints/cli_support.execute).

`ConfigurationError` (entrypoints/settings) means a setting to fix: exit 2. `StartupError`
means something outside the configuration stops a command before it does anything (a port
in use, no tokens yet): exit 1, and the message says what to do.
"""

from __future__ import annotations


class StartupError(Exception):
    """A command cannot start; the message (one line) names what to fix."""
