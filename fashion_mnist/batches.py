"""Batches for `fit`: each epoch's order drawn from (seed, epoch), each batch's augmentation from (seed, epoch,
batch)."""

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
    first_batch: int = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch's batches from `first_batch` on, shuffled by (seed, epoch), and shifted and flipped if `augment`,
    drawn from (seed, epoch, batch).

    Keras's own shuffling draws from a generator that restarts with the process, so a resumed
    run would see other batches than one that never stopped. Here epoch k is always the same,
    which makes a resumed run identical to an uninterrupted one, even one resumed within an epoch.

    `part` (index, count) gives process `index` of `count` its equal slice of every batch: the
    processes of a data-parallel run together see exactly the batches of a single one. The last
    batch then drops the few images that would not split evenly over the `devices`.
    """
    index, count = part
    order = np.random.default_rng([seed, epoch]).permutation(len(labels))
    for number, start in enumerate(range(first_batch * batch_size, len(order), batch_size), start=first_batch):
        batch = order[start : start + batch_size]
        random = np.random.default_rng([seed, epoch, number])
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
    first_step: int,
    steps: int,
    augment: bool,
    part: tuple[int, int] = (0, 1),
    devices: int = 1,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Steps `first_step` to `steps - 1` of the endless sequence of epochs' batches, for `fit`.

    A step count need not be a whole number of passes over the images: final-train retrains for the
    steps that validation chose, which on more images end within a pass.
    """
    per_epoch = steps_per_epoch(len(labels), batch_size=batch_size, devices=devices)
    epoch, first_batch = divmod(first_step, per_epoch)
    remaining = steps - first_step
    while remaining > 0:
        batches = epoch_batches(
            images,
            labels,
            batch_size=batch_size,
            seed=seed,
            epoch=epoch,
            augment=augment,
            part=part,
            devices=devices,
            first_batch=first_batch,
        )
        for batch in batches:
            yield batch
            remaining -= 1
            if remaining == 0:
                return
        epoch, first_batch = epoch + 1, 0
