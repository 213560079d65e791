"""Augmentation of image batches: random shifts of a few pixels, horizontal flips, and random erasing; in NumPy on
the host, or in Keras ops inside the training step."""

import keras
import numpy as np

from fashion_mnist.model import classifier_of

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


def in_rectangles(erased, tops, lefts, heights, widths, rows, columns):
    """Which pixels of each image lie in its rectangle, for the images `erased` marks: (image, row, column) masks
    from each image's rectangle and the images' row and column numbers. NumPy arrays and tensors alike."""
    return (
        erased[:, None, None]
        & (rows[None, :, None] >= tops[:, None, None])
        & (rows[None, :, None] < (tops + heights)[:, None, None])
        & (columns[None, None, :] >= lefts[:, None, None])
        & (columns[None, None, :] < (lefts + widths)[:, None, None])
    )


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
    inside = in_rectangles(
        erased, tops, lefts, rectangle_heights, rectangle_widths, np.arange(height), np.arange(width)
    )
    noise = random.integers(0, 256, size=images.shape, dtype=np.int64).astype(images.dtype)
    return np.where(inside[..., None], noise, images)


# The same augmentations in Keras ops, drawn inside the training step (train.augment_on: device). On a GPU the host
# then only batches, and the pixels never leave the device; the draws come from Keras's generator, not NumPy's,
# so a run differs from its host twin, though it augments alike.


def shift_and_flip_in_step(images, seed: keras.random.SeedGenerator, max_shift: int = 2):
    """shift_and_flip on a batch tensor: each image shifted by up to `max_shift` pixels each way over a black border,
    half of them mirrored left to right, every draw from `seed`."""
    ops = keras.ops
    count = ops.shape(images)[0]
    height, width, channels = images.shape[1:]
    shifts = keras.random.randint((count, 2), -max_shift, max_shift + 1, seed=seed)
    flipped = keras.random.uniform((count, 1), seed=seed) < 0.5
    padded = ops.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    rows = (max_shift - shifts[:, :1]) + ops.arange(height, dtype="int32")
    columns = (max_shift - shifts[:, 1:]) + ops.arange(width, dtype="int32")
    columns = ops.where(flipped, ops.flip(columns, axis=1), columns)
    # Two gathers: the rows each image keeps, then its columns (reversed where it is mirrored).
    rows = ops.broadcast_to(rows[:, :, None, None], (count, height, width + 2 * max_shift, channels))
    columns = ops.broadcast_to(columns[:, None, :, None], (count, height, width, channels))
    return ops.take_along_axis(ops.take_along_axis(padded, rows, axis=1), columns, axis=2)


def erase_randomly_in_step(images, seed: keras.random.SeedGenerator, probability: float):
    """erase_randomly on a batch tensor: with `probability`, one rectangle of ERASED_AREA and ERASED_ASPECT per image
    becomes uniform noise over 0-255, every draw from `seed`."""
    ops = keras.ops
    count = ops.shape(images)[0]
    height, width = images.shape[1:3]
    erased = keras.random.uniform((count,), seed=seed) < probability
    area = keras.random.uniform((count,), *ERASED_AREA, seed=seed) * (height * width)
    aspect = ops.exp(keras.random.uniform((count,), *np.log(ERASED_ASPECT), seed=seed))
    rectangle_heights = ops.clip(ops.round(ops.sqrt(area * aspect)), 1, height)
    rectangle_widths = ops.clip(ops.round(ops.sqrt(area / aspect)), 1, width)
    tops = ops.floor(keras.random.uniform((count,), seed=seed) * (height - rectangle_heights + 1))
    lefts = ops.floor(keras.random.uniform((count,), seed=seed) * (width - rectangle_widths + 1))
    rows, columns = ops.arange(height, dtype="float32"), ops.arange(width, dtype="float32")
    inside = in_rectangles(erased, tops, lefts, rectangle_heights, rectangle_widths, rows, columns)
    noise = ops.cast(ops.floor(keras.random.uniform(ops.shape(images), 0, 256, seed=seed)), images.dtype)
    return ops.where(inside[..., None], noise, images)


class AugmentInStep(keras.Model):
    """`model` with its training images augmented inside the step: shifted and flipped if `shift_and_flip`, then
    erased with probability `random_erasing`. Only training augments; otherwise the images pass as they come.

    train_model fits this wrapper and the stage saves `model`, which shares its weights: the file to ship
    holds no augmentation. The generator's state is a variable, which ReseedRandomLayers sets at each epoch.
    """

    def __init__(self, model: keras.Model, *, shift_and_flip: bool, random_erasing: float, seed: int, **kwargs):
        # float32: the pixels stay whole numbers, whatever the policy of the model inside.
        super().__init__(name=f"{model.name}_augmented_in_step", dtype="float32", **kwargs)
        self.model_inside = model
        self.shift_and_flip, self.random_erasing = shift_and_flip, random_erasing
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Built at once, as a checkpoint's weights can load only into a built model.
        self(keras.Input(shape=classifier_of(model).input_shape[1:]))

    def call(self, images, training: bool = False):
        if training:
            if self.shift_and_flip:
                images = shift_and_flip_in_step(images, self.seed_generator)
            if self.random_erasing:
                images = erase_randomly_in_step(images, self.seed_generator, self.random_erasing)
        return self.model_inside(images, training=training)
