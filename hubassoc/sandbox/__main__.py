"""``python -m hubassoc.sandbox``: the same as ``hubassoc sandbox``."""

import argparse
import sys

from hubassoc.sandbox._command import add_parser


def main() -> int:
    """Parse ``sys.argv`` as the ``sandbox`` sub-command's options and run it."""
    parser = argparse.ArgumentParser(prog="python -m hubassoc.sandbox")
    subparsers = parser.add_subparsers(dest="command")
    add_parser(subparsers)
    args = parser.parse_args(["sandbox", *sys.argv[1:]])
    status: int = args.func(args)
    return status


sys.exit(main())
