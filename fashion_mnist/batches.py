"""Batches for `fit`: each epoch's order and augmentation drawn from (seed, epoch) alone."""

from collections.abc import Iterator

import numpy as np

from fashion_mnist.augmentation import shift_and_flip


def epoch_batches(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    augment: bool,
    part: tuple[int, int] = (0, 1),
    devices: int = 1,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch's batches, shuffled (and augmented) by (seed, epoch) alone.

    Keras's own shuffling draws from a generator that restarts with the process, so a resumed
    run would see other batches than one that never stopped. Here epoch k is always the same,
    which makes a resumed run identical to an uninterrupted one.

    `part` (index, count) gives process `index` of `count` its equal slice of every batch: the
    processes of a data-parallel run together see exactly the batches of a single one. The last
    batch then drops the few images that would not split evenly over the `devices`.
    """
    index, count = part
    random = np.random.default_rng([seed, epoch])
    order = random.permutation(len(labels))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        batch_images = shift_and_flip(images[batch], random) if augment else images[batch]
        size = len(batch) // devices * devices // count
        if size:
            yield batch_images[index * size : (index + 1) * size], labels[batch][index * size : (index + 1) * size]


def steps_per_epoch(samples: int, *, batch_size: int, devices: int = 1) -> int:
    """The batches epoch_batches yields: a last short batch counts if every device gets an image of it."""
    full, rest = divmod(samples, batch_size)
    return full + (rest >= devices)


def batch_stream(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    augment: bool,
    part: tuple[int, int] = (0, 1),
    devices: int = 1,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The batches of epochs `first_epoch` to `epochs - 1`, one after the other, for `fit`."""
    for epoch in range(first_epoch, epochs):
        yield from epoch_batches(
            images, labels, batch_size=batch_size, seed=seed, epoch=epoch, augment=augment, part=part, devices=devices
        )
