"""What every stage script shares: running `main` and turning bad input into a one-line error."""

import sys
from collections.abc import Callable

from fashion_mnist.errors import PipelineError


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's `main`; on bad input print what is wrong and exit with status 1."""
    try:
        main()
    except PipelineError as error:
        sys.exit(f"error: {error}")
