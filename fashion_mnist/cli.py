"""The `fashion-mnist` command that `pip install .` provides: `fashion-mnist predict photo.jpg`,
`fashion-mnist serve`, a local page to try the model on a photo, and `fashion-mnist recipe fast`, the params
of a named recipe for `dvc exp run`."""

import importlib
import sys

from fashion_mnist.stage import run_stage

# Each subcommand's module has a `main(arguments, prog)`; it is imported when named, so that `recipe` does
# not wait for Keras.
COMMANDS = {"predict": "fashion_mnist.predict", "recipe": "fashion_mnist.recipes", "serve": "fashion_mnist.serve"}
USAGE = "usage: fashion-mnist {" + ",".join(COMMANDS) + "} ...  (fashion-mnist COMMAND --help for its options)"


def main(arguments: list[str] | None = None) -> None:
    """Run the subcommand named first in `arguments` (the command line by default)."""
    arguments = sys.argv[1:] if arguments is None else arguments
    if not arguments or arguments[0] in ("-h", "--help"):
        print(USAGE)
        sys.exit(0 if arguments else 2)
    command, *rest = arguments
    if command not in COMMANDS:
        sys.exit(f"error: unknown command {command!r}\n{USAGE}")
    module = importlib.import_module(COMMANDS[command])
    run_stage(lambda: module.main(rest, prog=f"fashion-mnist {command}"))
