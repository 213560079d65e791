"""Augmentation of image batches in NumPy: random shifts of a few pixels, horizontal flips, and random erasing."""

import numpy as np

# Random erasing's rectangles, as in Zhong et al., "Random Erasing Data Augmentation" (2017): each covers 2% to
# 40% of the image, with a height-to-width ratio between 0.3 and 1 / 0.3, and its pixels become noise.
ERASED_AREA = (0.02, 0.4)
ERASED_ASPECT = (0.3, 1 / 0.3)


def shift_and_flip(images: np.ndarray, random: np.random.Generator, max_shift: int = 2) -> np.ndarray:
    """Shift each image by up to `max_shift` pixels each way (the border fills with black) and mirror half
    of them left to right. Every draw comes from `random`, so the same generator state gives the same batch."""
    count, height, width = images.shape[:3]
    shifts = random.integers(-max_shift, max_shift + 1, size=(count, 2))
    flipped = random.random(count) < 0.5
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    rows = (max_shift - shifts[:, :1]) + np.arange(height)
    columns = (max_shift - shifts[:, 1:]) + np.arange(width)
    columns = np.where(flipped[:, None], columns[:, ::-1], columns)
    return padded[np.arange(count)[:, None, None], rows[:, :, None], columns[:, None, :]]


def erase_randomly(images: np.ndarray, random: np.random.Generator, probability: float) -> np.ndarray:
    """Replace one random rectangle of each image, with `probability`, by uniform noise over 0-255.

    The model then cannot lean on any one part of a garment: a sleeve or a heel may be missing. The
    rectangle's area and shape are drawn as ERASED_AREA and ERASED_ASPECT say; every draw comes from
    `random`, as in shift_and_flip, and `images` is left as it was."""
    count, height, width = images.shape[:3]
    erased = random.random(count) < probability
    area = random.uniform(*ERASED_AREA, size=count) * height * width
    # Log-uniform, so that tall and wide rectangles are equally likely.
    aspect = np.exp(random.uniform(*np.log(ERASED_ASPECT), size=count))
    rectangle_heights = np.clip(np.rint(np.sqrt(area * aspect)), 1, height).astype(int)
    rectangle_widths = np.clip(np.rint(np.sqrt(area / aspect)), 1, width).astype(int)
    tops = random.integers(0, height - rectangle_heights + 1)
    lefts = random.integers(0, width - rectangle_widths + 1)
    rows = np.arange(height)[None, :, None]
    columns = np.arange(width)[None, None, :]
    inside = (
        erased[:, None, None]
        & (rows >= tops[:, None, None])
        & (rows < (tops + rectangle_heights)[:, None, None])
        & (columns >= lefts[:, None, None])
        & (columns < (lefts + rectangle_widths)[:, None, None])
    )
    noise = random.integers(0, 256, size=images.shape, dtype=np.int64).astype(images.dtype)
    return np.where(inside[..., None], noise, images)
