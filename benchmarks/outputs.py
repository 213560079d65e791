"""Where a benchmark writes its report and figures: a quick run's check that it all runs never overwrites the
committed files the docs cite."""

import argparse
import json
from pathlib import Path

from fashion_mnist import paths
from fashion_mnist.errors import DataError

# Quick runs' reports and figures, which git ignores.
QUICK_FOLDER = paths.REPORTS_DIR / "quick"


def output_path(given: Path | None, committed: Path, quick: bool) -> Path:
    """The path given on the command line; else the committed file, or in quick mode its namesake in QUICK_FOLDER."""
    if given is not None:
        return given
    return QUICK_FOLDER / committed.name if quick else committed


def add_report_arguments(parser: argparse.ArgumentParser, *, report: str, figure: Path, quick: str) -> None:
    """--quick (which does `quick`), --output, --figure and --draw, for a benchmark that writes `report` and draws
    `figure` from it."""
    parser.add_argument("--quick", action="store_true", help=f"{quick}: checks that it all runs")
    parser.add_argument("--output", type=Path, help=f"default: {report}; --quick: {QUICK_FOLDER}/")
    parser.add_argument("--figure", type=Path, help=f"default: {figure}; --quick: {QUICK_FOLDER}/")
    parser.add_argument("--draw", action="store_true", help="only redraw the figure from the report")


def read_report(path: Path, missing: str) -> dict:
    """The JSON report at `path`; a DataError that names it and says `missing` where it does not exist."""
    if not path.exists():
        raise DataError(f"{path}: {missing}")
    return json.loads(path.read_text())


def report_to_draw(output: Path) -> dict:
    """The report at `output` that --draw redraws a figure from; a DataError if the benchmark has not written it."""
    return read_report(output, "no report to draw: run the benchmark first")
