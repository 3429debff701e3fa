"""`o3v` subcommands of the eval area (argument definitions only; work is imported lazily)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's subcommands to the `o3v` parser."""
