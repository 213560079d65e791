"""Augmentation of image batches: random shifts of a few pixels and horizontal flips, in NumPy on the host, or in
Keras ops inside the training step."""

import keras
import numpy as np

from fashion_mnist.model import classifier_of


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


class AugmentInStep(keras.Model):
    """`model` with its training images shifted and flipped inside the step. Only training augments; otherwise the
    images pass as they come.

    train_model fits this wrapper and the stage saves `model`, which shares its weights: the file to ship
    holds no augmentation. The generator's state is a variable, which ReseedRandomLayers sets at each epoch.
    """

    def __init__(self, model: keras.Model, *, seed: int, **kwargs):
        # float32: the pixels stay whole numbers, whatever the policy of the model inside.
        super().__init__(name=f"{model.name}_augmented_in_step", dtype="float32", **kwargs)
        self.model_inside = model
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Built at once, as a checkpoint's weights can load only into a built model.
        self(keras.Input(shape=classifier_of(model).input_shape[1:]))

    def call(self, images, training: bool = False):
        if training:
            images = shift_and_flip_in_step(images, self.seed_generator)
        return self.model_inside(images, training=training)
