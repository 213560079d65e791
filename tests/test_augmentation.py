"""Training-time augmentation: shifts and flips, on the host and inside the training step."""

import keras
import numpy as np
import pytest

from fashion_mnist.augmentation import AugmentInStep, shift_and_flip_in_step
from fashion_mnist.model import build_model


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    # A constant image: a shift shows as its black border.
    return np.full((400, 28, 28, 1), 7, dtype=np.uint8)


def shifted_and_flipped_variants(image: np.ndarray, max_shift: int = 2) -> list[np.ndarray]:
    """Every image that shift_and_flip can make of `image`: each shift each way over a black border, mirrored or not."""
    padded = np.pad(image, ((max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    variants = []
    for down in range(-max_shift, max_shift + 1):
        for right in range(-max_shift, max_shift + 1):
            shifted = padded[max_shift - down : max_shift - down + 28, max_shift - right : max_shift - right + 28]
            variants += [shifted, shifted[:, ::-1]]
    return variants


def test_the_in_step_shift_and_flip_makes_one_of_the_hosts_variants_of_each_image():
    images = np.random.default_rng(0).integers(1, 256, size=(64, 28, 28, 1), dtype=np.uint8)
    augmented = keras.ops.convert_to_numpy(shift_and_flip_in_step(images, keras.random.SeedGenerator(5)))
    assert augmented.shape == images.shape and augmented.dtype == images.dtype
    matches = []
    for image, result in zip(images, augmented, strict=True):
        variants = shifted_and_flipped_variants(image)
        found = [index for index, variant in enumerate(variants) if np.array_equal(variant, result)]
        assert len(found) == 1, "each image is one shift of the original, mirrored or not"
        matches.append(found[0])
    # 64 images drawn from 50 variants: the draws differ, and both mirrored and plain ones occur.
    assert len(set(matches)) > 10
    assert {index % 2 for index in matches} == {0, 1}


def test_the_in_step_shift_and_flip_depends_on_the_generators_seed_alone():
    images = np.random.default_rng(1).integers(0, 256, size=(16, 28, 28, 1), dtype=np.uint8)

    def augmented(seed: int) -> np.ndarray:
        return keras.ops.convert_to_numpy(shift_and_flip_in_step(images, keras.random.SeedGenerator(seed)))

    np.testing.assert_array_equal(augmented(3), augmented(3))
    assert not np.array_equal(augmented(3), augmented(4))


def test_augmenting_in_the_step_touches_training_alone():
    images = np.random.default_rng(2).integers(0, 256, size=(8, 28, 28, 1), dtype=np.uint8)
    # The blog's model has no dropout or batch normalization: in training it computes what it predicts.
    model = build_model("blog_cnn")
    wrapper = AugmentInStep(model, seed=0)
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(wrapper(images, training=False)), expected)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(images, training=True)), expected)
    assert not np.allclose(keras.ops.convert_to_numpy(wrapper(images, training=True)), expected)
