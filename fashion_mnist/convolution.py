"""The plot stage's figure of what a CNN's first convolution sees: its filters and the maps they make."""

import keras
import numpy as np
from keras import layers
from matplotlib.figure import Figure

from fashion_mnist.dataset import CLASS_NAMES
from fashion_mnist.errors import DataError
from fashion_mnist.model import classifier_of


def one_image_per_class(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The first image of each class, in class order."""
    missing = [name for index, name in enumerate(CLASS_NAMES) if not np.any(labels == index)]
    if missing:
        raise DataError(f"no image of class {', '.join(missing)} to show")
    return np.stack([images[np.argmax(labels == index)] for index in range(len(CLASS_NAMES))])


def first_convolution(model: keras.Model) -> layers.Conv2D:
    """The model's first Conv2D layer, whichever architecture it is (inside FlipAveraged, its classifier's)."""
    for layer in classifier_of(model).layers:
        if isinstance(layer, layers.Conv2D):
            return layer
    raise DataError(f"model {model.name!r} has no Conv2D layer to show")


def convolution_outputs(model: keras.Model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first convolution's 3x3 filters (filters, 3, 3) and its output for `images` (images, rows, columns,
    filters), both float32."""
    convolution = first_convolution(model)
    # The layers up to the convolution (the rescaling included) as a model of their own.
    up_to_convolution = keras.Model(inputs=classifier_of(model).inputs[0], outputs=convolution.output)
    feature_maps = keras.ops.convert_to_numpy(up_to_convolution(images, training=False)).astype(np.float32)
    kernel = keras.ops.convert_to_numpy(convolution.kernel).astype(np.float32)
    # The kernel is (rows, columns, input channels, filters); Fashion-MNIST has one channel.
    filters = np.moveaxis(kernel[:, :, 0, :], -1, 0)
    return filters, feature_maps


def convolution_figure(
    filters: np.ndarray, feature_maps: np.ndarray, images: np.ndarray, class_names: list[str], max_filters: int = 16
) -> Figure:
    """A grid for beginners: each filter on top of its column, then one row per input image with the maps it gives."""
    total = len(filters)
    shown = min(total, max_filters)
    rows, columns = len(images) + 1, shown + 1
    figure = Figure(figsize=(1.0 + 0.8 * columns, 1.3 + 0.8 * rows), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes in grid.flat:
        axes.set_xticks([])
        axes.set_yticks([])
    # One grey scale for every filter, centred on zero: light weights add, dark ones subtract.
    weight_limit = float(np.abs(filters[:shown]).max()) or 1.0
    grid[0, 0].axis("off")
    grid[0, 0].text(0.5, 0.5, "filters\n(3x3\nweights)", ha="center", va="center", fontsize=9)
    for index in range(shown):
        axes = grid[0, index + 1]
        axes.imshow(filters[index], cmap="gray", vmin=-weight_limit, vmax=weight_limit)
        axes.set_title(f"filter {index + 1}", fontsize=9)
        # Each filter's maps share one scale, so a column compares how strongly each class excites it.
        low, high = float(feature_maps[..., index].min()), float(feature_maps[..., index].max())
        for row in range(len(images)):
            grid[row + 1, index + 1].imshow(feature_maps[row, :, :, index], cmap="gray", vmin=low, vmax=high)
    for row, name in enumerate(class_names):
        axes = grid[row + 1, 0]
        axes.imshow(images[row, :, :, 0], cmap="gray", vmin=0, vmax=255)
        axes.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    grid[1, 0].set_title("input", fontsize=9)
    which = f"{total} filters" if shown == total else f"{total} filters (the first {shown} shown)"
    figure.suptitle(
        "What the first convolution sees\n"
        f"A filter is a small 3x3 pattern of weights slid over the image; this model's first layer has {which}. "
        "Top row: each filter (light = positive weight, dark = negative).\n"
        "Below it, the map that filter makes from the image at the left of the row (one validation image per class): "
        "light = strong response.",
        fontsize=11,
    )
    return figure
