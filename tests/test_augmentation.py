"""Training-time augmentation: shifts and flips, and random erasing."""

import numpy as np
import pytest

from fashion_mnist.augmentation import ERASED_AREA, erase_randomly
from fashion_mnist.batches import epoch_batches
from tests.synthetic import balanced_labels, make_images


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    # Noise replaces erased pixels, so a constant image shows exactly which ones were erased.
    return np.full((400, 28, 28, 1), 7, dtype=np.uint8)


def erased_masks(images: np.ndarray, probability: float, seed: int = 0) -> np.ndarray:
    erased = erase_randomly(images, np.random.default_rng(seed), probability)
    assert erased.shape == images.shape and erased.dtype == images.dtype
    return erased[..., 0] != images[..., 0]


def test_random_erasing_replaces_one_rectangle_of_the_chosen_share_of_images(images):
    masks = erased_masks(images, probability=0.5)
    touched = masks.any(axis=(1, 2))
    # 400 draws at 0.5: 200 expected, and 160 to 240 holds with overwhelming probability.
    assert 160 <= touched.sum() <= 240
    for mask in masks[touched]:
        rows, columns = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        box = mask[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
        # Noise equals the old value one time in 256, so the rectangle is nearly, not entirely, changed.
        assert box.mean() > 0.9, "the erased pixels form one filled rectangle"
        assert box.size <= ERASED_AREA[1] * 28 * 28 + 28, "at most 40% of the image, give or take rounding"


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
