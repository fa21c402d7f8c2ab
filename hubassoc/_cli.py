"""The ``hubassoc`` command line: one sub-command per module.

Each sub-command lives in a module, which exposes ``add_parser(subparsers)``
(or, for several commands in one module, a function named after the colon:
``"module:add_verify_parser"``); that function registers the sub-command and
sets ``func`` (a callable taking the parsed namespace and returning the exit
status) as the parser default. Modules are imported only when the command
line is parsed, so ``hubassoc --help`` stays quick.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

__all__ = ["main"]

# Sub-command modules, in the order ``--help`` lists them.
_COMMAND_MODULES = (
    "hubassoc.backfill._command",
    "hubassoc.backfill._command:add_verify_parser",
    "hubassoc.backfill._command:add_export_parser",
    "hubassoc.sandbox._command",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="hubassoc",
        description="Create, remove, verify and export HubSpot CRM associations at scale.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for entry in _COMMAND_MODULES:
        name, _, function = entry.partition(":")
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a sub-command not built yet
        getattr(module, function or "add_parser")(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status
