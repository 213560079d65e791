"""Stage plot: draw the learning curves of the train stage, and what its model's first convolution sees."""

from fashion_mnist import paths
from fashion_mnist.backend import cap_instruction_set
from fashion_mnist.convolution import convolution_figure, convolution_outputs, one_image_per_class
from fashion_mnist.dataset import CLASS_NAMES, load_split, validation_split
from fashion_mnist.files import save_figure
from fashion_mnist.history import read_best_epoch
from fashion_mnist.learning_curves import METRICS, learning_curves
from fashion_mnist.loading import load_model
from fashion_mnist.params import load_params
from fashion_mnist.progress import read_history
from fashion_mnist.stage import check_backend, run_stage


def main() -> None:
    """Draw the learning curves, then the first convolution's filters and maps on validation images."""
    params = load_params(["base", "train"])
    check_backend(params["train"]["backend"])
    print(f"instruction set: {cap_instruction_set(params['train']['cpu_isa'])}")
    history = read_history(paths.TRAIN_EPOCHS, metrics=METRICS)
    best = read_best_epoch(paths.TRAIN_METRICS)
    monitor = params["train"]["monitor"]
    save_figure(learning_curves(history, best_epoch=best, monitor=monitor), paths.LEARNING_CURVES)
    print(f"{paths.LEARNING_CURVES}: {len(history)} epochs, epoch {best} kept by {monitor}")

    # The same validation part as the train stage's, so the model never trained on these images.
    images, labels = load_split(paths.TRAIN_DATA)
    _, (x_validation, y_validation) = validation_split(
        images, labels, fraction=params["train"]["validation_split"], seed=params["base"]["seed"]
    )
    examples = one_image_per_class(x_validation, y_validation)
    model = load_model(paths.MODEL)
    filters, feature_maps = convolution_outputs(model, examples)
    save_figure(
        convolution_figure(filters, feature_maps, images=examples, class_names=list(CLASS_NAMES)), paths.CONVOLUTION
    )
    print(f"{paths.CONVOLUTION}: {len(filters)} filters of {model.name}, maps of {len(examples)} validation images")


if __name__ == "__main__":
    run_stage(main)
