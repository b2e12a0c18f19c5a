"""`python -m gateway.simulator`: run the upstream LLM simulator."""

from __future__ import annotations

import argparse
import sys

from gateway.simulator.cli import add_arguments, run


def main() -> int:
    """Parse flags and serve."""
    parser = argparse.ArgumentParser(prog="python -m gateway.simulator", description="Upstream LLM simulator")
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
