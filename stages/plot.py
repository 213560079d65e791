"""Stage plot: draw the learning curves of the train stage."""

from fashion_mnist import paths
from fashion_mnist.files import save_figure
from fashion_mnist.learning_curves import best_epoch, learning_curves, load_history
from fashion_mnist.stage import run_stage


def main() -> None:
    """Draw the learning curves from the train stage's history."""
    history = load_history(paths.TRAIN_HISTORY)
    best = best_epoch(history)
    save_figure(learning_curves(history, best_epoch=best), paths.LEARNING_CURVES)
    print(f"{paths.LEARNING_CURVES}: {len(history)} epochs, best validation accuracy at epoch {best}")


if __name__ == "__main__":
    run_stage(main)
