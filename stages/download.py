"""Stage download: fetch the four Fashion-MNIST files into data/raw/, each verified by its SHA-256."""

from fashion_mnist import paths
from fashion_mnist.download import download_all
from fashion_mnist.params import load_params
from fashion_mnist.stage import run_stage


def main() -> None:
    """Download and verify the four files."""
    params = load_params(["download"])["download"]
    sources = download_all(
        files=params["files"],
        mirrors=params["mirrors"],
        destination_dir=paths.RAW_DIR,
        timeout_seconds=params["timeout_seconds"],
    )
    for name, mirror in sources.items():
        print(f"{paths.RAW_DIR / name}: checksum verified, from {mirror}")


if __name__ == "__main__":
    run_stage(main)
