"""The plot stage's figure of the first convolution: its filters and maps, checked against a NumPy convolution."""

import keras
import numpy as np
import pytest
from keras import layers

from fashion_mnist.convolution import convolution_figure, convolution_outputs, first_convolution, one_image_per_class
from fashion_mnist.dataset import CLASS_NAMES
from fashion_mnist.errors import DataError
from fashion_mnist.model import build_model


def tiny_model(filters: int = 4, dtype: str | None = None) -> keras.Model:
    """A small classifier shaped like the blog's: rescaling, then a 3x3 convolution first."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(filters, kernel_size=3, activation="relu", dtype=dtype),
            layers.Conv2D(2, kernel_size=3, activation="relu"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax", dtype="float32"),
        ]
    )


def class_images() -> np.ndarray:
    """One random uint8 image per class."""
    return np.random.default_rng(0).integers(0, 256, size=(10, 28, 28, 1), dtype=np.uint8)


def numpy_convolution(images: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """ReLU of a 3x3 'valid' convolution (cross-correlation, as Keras computes it) of images scaled to 0..1."""
    windows = np.lib.stride_tricks.sliding_window_view(images[..., 0] / 255, (3, 3), axis=(1, 2))
    return np.maximum(np.einsum("nijkl,klf->nijf", windows, kernel[:, :, 0, :]) + bias, 0)


def test_the_filters_and_maps_are_the_first_convolutions_weights_and_output():
    model = tiny_model(filters=4)
    images = class_images()
    filters, feature_maps = convolution_outputs(model, images)

    assert filters.shape == (4, 3, 3) and filters.dtype == np.float32
    assert feature_maps.shape == (10, 26, 26, 4) and feature_maps.dtype == np.float32
    kernel, bias = (keras.ops.convert_to_numpy(weight) for weight in model.layers[1].weights)
    np.testing.assert_array_equal(filters[2], kernel[:, :, 0, 2])
    np.testing.assert_allclose(feature_maps, numpy_convolution(images, kernel, bias), rtol=1e-4, atol=1e-5)


def test_a_bfloat16_convolution_gives_float32_arrays():
    # What a model trained with train.precision: mixed_bfloat16 holds.
    filters, feature_maps = convolution_outputs(tiny_model(filters=4, dtype="mixed_bfloat16"), class_images())
    assert filters.dtype == feature_maps.dtype == np.float32
    assert feature_maps.shape == (10, 26, 26, 4) and np.isfinite(feature_maps).all()


@pytest.mark.parametrize(("name", "filters", "size"), [("blog_cnn", 16, 26), ("vgg_bn", 32, 28), ("vgg_fast", 32, 28)])
def test_every_architecture_shows_its_first_convolution(name: str, filters: int, size: int):
    model = build_model(name)
    assert first_convolution(model) is next(layer for layer in model.layers if isinstance(layer, layers.Conv2D))
    kernels, feature_maps = convolution_outputs(model, class_images())
    # vgg_bn and vgg_fast pad their convolutions, so their maps keep the image's 28x28.
    assert kernels.shape == (filters, 3, 3) and feature_maps.shape == (10, size, size, filters)


def test_a_model_without_a_convolution_is_refused():
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(10)], name="dense_only")
    with pytest.raises(DataError, match="model 'dense_only' has no Conv2D layer"):
        first_convolution(model)


def test_one_image_per_class_takes_the_first_of_each_class_in_class_order():
    labels = np.array([3, 1, 0, 2, 4, 5, 6, 7, 8, 9, 1, 0])
    images = np.broadcast_to(np.arange(len(labels), dtype=np.uint8)[:, None, None, None], (len(labels), 28, 28, 1))
    chosen = one_image_per_class(images, labels)
    assert chosen.shape == (10, 28, 28, 1)
    assert chosen[:, 0, 0, 0].tolist() == [2, 1, 3, 0, 4, 5, 6, 7, 8, 9]


def test_a_missing_class_is_named():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 9])
    with pytest.raises(DataError, match="no image of class Bag"):
        one_image_per_class(np.zeros((9, 28, 28, 1), dtype=np.uint8), labels)


def test_the_figure_heads_each_column_with_its_filter_and_each_row_with_its_image():
    model = tiny_model(filters=4)
    images = class_images()
    filters, feature_maps = convolution_outputs(model, images)
    figure = convolution_figure(filters, feature_maps, images=images, class_names=list(CLASS_NAMES))

    grid = np.array(figure.axes).reshape(11, 5)
    assert [axes.get_title() for axes in grid[0, 1:]] == ["filter 1", "filter 2", "filter 3", "filter 4"]
    assert [axes.get_ylabel() for axes in grid[1:, 0]] == list(CLASS_NAMES)
    np.testing.assert_array_equal(grid[0, 3].get_images()[0].get_array(), filters[2])
    np.testing.assert_array_equal(grid[1:, 0][6].get_images()[0].get_array(), images[6, :, :, 0])
    # Row "Shirt", column "filter 3": the map filter 3 makes from the shirt.
    np.testing.assert_array_equal(grid[7, 3].get_images()[0].get_array(), feature_maps[6, :, :, 2])
    title = figure.get_suptitle()
    assert "3x3 pattern of weights slid over the image" in title and "light = strong response" in title
    assert "first layer has 4 filters." in title


def test_a_wide_first_layer_shows_its_first_filters_and_says_so():
    filters, feature_maps = convolution_outputs(tiny_model(filters=20), class_images())
    figure = convolution_figure(filters, feature_maps, images=class_images(), class_names=list(CLASS_NAMES))
    assert len(figure.axes) == 11 * 17
    assert figure.axes[16].get_title() == "filter 16"
    assert "first layer has 20 filters (the first 16 shown)." in figure.get_suptitle()
