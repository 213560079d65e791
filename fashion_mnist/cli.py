"""The `fashion-mnist` command that `pip install .` provides: `fashion-mnist predict photo.jpg`."""

import sys
from functools import partial

from fashion_mnist import predict
from fashion_mnist.stage import run_stage

# Each subcommand's `main` takes the arguments that follow its name.
COMMANDS = {"predict": partial(predict.main, prog="fashion-mnist predict")}
USAGE = "usage: fashion-mnist {" + ",".join(COMMANDS) + "} ...  (fashion-mnist predict --help for its options)"


def main(arguments: list[str] | None = None) -> None:
    """Run the subcommand named first in `arguments` (the command line by default)."""
    arguments = sys.argv[1:] if arguments is None else arguments
    if not arguments or arguments[0] in ("-h", "--help"):
        print(USAGE)
        sys.exit(0 if arguments else 2)
    command, *rest = arguments
    if command not in COMMANDS:
        sys.exit(f"error: unknown command {command!r}\n{USAGE}")
    run_stage(lambda: COMMANDS[command](rest))
