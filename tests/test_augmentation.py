"""Training-time augmentation: shifts and flips, and random erasing, on the host and inside the training step."""

import keras
import numpy as np
import pytest

from fashion_mnist.augmentation import (
    ERASED_AREA,
    AugmentInStep,
    erase_randomly,
    erase_randomly_in_step,
    shift_and_flip_in_step,
)
from fashion_mnist.batches import epoch_batches
from fashion_mnist.model import build_model
from tests.synthetic import balanced_labels, make_images


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    # Noise replaces erased pixels, so a constant image shows exactly which ones were erased.
    return np.full((400, 28, 28, 1), 7, dtype=np.uint8)


def erased_masks(images: np.ndarray, probability: float, seed: int = 0) -> np.ndarray:
    erased = erase_randomly(images, np.random.default_rng(seed), probability)
    assert erased.shape == images.shape and erased.dtype == images.dtype
    return erased[..., 0] != images[..., 0]


def assert_one_rectangle_in_about_half(masks: np.ndarray) -> None:
    """Check erasing's (image, row, column) masks, drawn with probability 0.5 for 400 images: about half the images
    have one filled rectangle of at most ERASED_AREA's share erased, the rest nothing."""
    touched = masks.any(axis=(1, 2))
    # 400 draws at 0.5: 200 expected, and 160 to 240 holds with overwhelming probability.
    assert 160 <= touched.sum() <= 240
    for mask in masks[touched]:
        rows, columns = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        box = mask[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
        # Noise equals the old value one time in 256, so the rectangle is nearly, not entirely, changed.
        assert box.mean() > 0.9, "the erased pixels form one filled rectangle"
        assert box.size <= ERASED_AREA[1] * 28 * 28 + 28, "at most 40% of the image, give or take rounding"


def test_random_erasing_replaces_one_rectangle_of_the_chosen_share_of_images(images):
    assert_one_rectangle_in_about_half(erased_masks(images, probability=0.5))


def test_random_erasing_is_drawn_from_the_generator_alone_and_leaves_its_input_untouched(images):
    copy = images.copy()
    np.testing.assert_array_equal(erased_masks(images, 0.5, seed=3), erased_masks(images, 0.5, seed=3))
    assert not np.array_equal(erased_masks(images, 0.5, seed=3), erased_masks(images, 0.5, seed=4))
    np.testing.assert_array_equal(images, copy)
    assert not erased_masks(images, probability=0).any()
    assert erased_masks(images, probability=1).any(axis=(1, 2)).all()


def test_epoch_batches_erase_only_when_asked_and_keep_the_shifts_and_flips():
    labels = balanced_labels(10, seed=0)
    images = make_images(labels, seed=1)
    settings = {"batch_size": 32, "seed": 1, "epoch": 2, "augment": True}
    plain = list(epoch_batches(images, labels, **settings))
    unerased = list(epoch_batches(images, labels, random_erasing=0.0, **settings))
    erased = list(epoch_batches(images, labels, random_erasing=1.0, **settings))
    for (plain_images, plain_labels), (same_images, _), (erased_images, erased_labels) in zip(
        plain, unerased, erased, strict=True
    ):
        np.testing.assert_array_equal(plain_images, same_images)
        np.testing.assert_array_equal(plain_labels, erased_labels)
        changed = erased_images != plain_images
        assert changed.any(axis=(1, 2, 3)).all(), "every image of the batch has a rectangle erased"
        # Outside its rectangle, each image is the shifted and flipped one: the erasing draws come after.
        assert changed.mean() < 0.45


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


def test_the_in_step_random_erasing_replaces_one_rectangle_of_the_chosen_share_of_images(images):
    def masks(probability: float) -> np.ndarray:
        erased = keras.ops.convert_to_numpy(erase_randomly_in_step(images, keras.random.SeedGenerator(2), probability))
        assert erased.shape == images.shape and erased.dtype == images.dtype
        return erased[..., 0] != images[..., 0]

    assert not masks(0.0).any()
    assert masks(1.0).any(axis=(1, 2)).all()
    assert_one_rectangle_in_about_half(masks(0.5))


def test_augmenting_in_the_step_touches_training_alone():
    images = np.random.default_rng(2).integers(0, 256, size=(8, 28, 28, 1), dtype=np.uint8)
    # The blog's model has no dropout or batch normalization: in training it computes what it predicts.
    model = build_model("blog_cnn")
    wrapper = AugmentInStep(model, shift_and_flip=True, random_erasing=1.0, seed=0)
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(wrapper(images, training=False)), expected)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(images, training=True)), expected)
    assert not np.allclose(keras.ops.convert_to_numpy(wrapper(images, training=True)), expected)
