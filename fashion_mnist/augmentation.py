"""Light augmentation of image batches in NumPy: random shifts of a few pixels and horizontal flips."""

import numpy as np


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
