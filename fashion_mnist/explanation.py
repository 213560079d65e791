"""The figure of `predict --explain`: a photo, the 28x28 image the model saw, and the model's ten probabilities."""

import numpy as np
from matplotlib.figure import Figure

from fashion_mnist.dataset import CLASS_NAMES


def explanation_figure(photo: np.ndarray, model_input: np.ndarray, probabilities: np.ndarray, title: str) -> Figure:
    """The photo (H, W, 3), its 28x28 model input and the softmax probabilities as bars labelled by class."""
    answer = int(np.argmax(probabilities))
    figure = Figure(figsize=(12, 4), layout="constrained")
    photo_axes, input_axes, bar_axes = figure.subplots(1, 3, width_ratios=[1, 1, 1.5])
    photo_axes.imshow(photo)
    photo_axes.set(title="the photo", xticks=[], yticks=[])
    # Nearest-neighbour, so that each of the 28x28 pixels shows as the square the model reads.
    input_axes.imshow(model_input, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    input_axes.set(title="what the model sees (28x28)", xticks=[], yticks=[])
    colours = ["tab:blue" if index == answer else "tab:gray" for index in range(len(CLASS_NAMES))]
    bars = bar_axes.barh(CLASS_NAMES, probabilities, color=colours)
    bar_axes.bar_label(bars, labels=[f"{probability:.3f}" for probability in probabilities], padding=3)
    bar_axes.invert_yaxis()  # Label 0 at the top, as the classes are listed.
    bar_axes.set(
        xlim=(0, 1.15),
        xlabel=f"probability (the ten add up to {probabilities.sum():.2f})",
        title=f"answer: {CLASS_NAMES[answer]}, probability {probabilities[answer]:.3f}",
    )
    bar_axes.spines[["top", "right"]].set_visible(False)
    figure.suptitle(title)
    return figure
