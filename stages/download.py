"""Stage download: fetch the four Fashion-MNIST files and keep their checksum-verified content in data/raw/."""

from fashion_mnist import paths
from fashion_mnist.download import download_all
from fashion_mnist.params import load_params
from fashion_mnist.sources import load_sources
from fashion_mnist.stage import run_stage


def main() -> None:
    """Download, decompress and verify the four files."""
    params = load_params(["download"])["download"]
    sources = load_sources(paths.SOURCES_FILE)
    written = download_all(
        files=sources["files"],
        mirrors=sources["mirrors"],
        destination_dir=paths.RAW_DIR,
        content_sizes=paths.SOURCE_FILES,
        idle_timeout_seconds=params["idle_timeout_seconds"],
        minimum_rate_kb_per_second=params["minimum_rate_kb_per_second"],
        deadline_floor_seconds=params["deadline_floor_seconds"],
    )
    for path, mirror in written.items():
        print(f"{path}: checksum verified, from {mirror}")


if __name__ == "__main__":
    run_stage(main)
