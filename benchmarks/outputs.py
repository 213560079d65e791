"""Where a benchmark writes its report and figures: a quick run's check that it all runs never overwrites the
committed files the README cites."""

from pathlib import Path

from fashion_mnist import paths

# Quick runs' reports and figures, which git ignores.
QUICK_FOLDER = paths.REPORTS_DIR / "quick"


def output_path(given: Path | None, committed: Path, quick: bool) -> Path:
    """The path given on the command line; else the committed file, or in quick mode its namesake in QUICK_FOLDER."""
    if given is not None:
        return given
    return QUICK_FOLDER / committed.name if quick else committed
