"""Photos made from real Fashion-MNIST images: each item enlarged onto a backdrop, off-centre, noisy.

An item's pixel is a mix of the backdrop and the ink in the proportion of the original's level, so a
prepared photo can be scored against the image it was made from. The scenes are the backgrounds a
phone photo meets: light paper, mid and dark grey, light grey under a white item, and a colour of the
same luminance as the item's.
"""

import colorsys
import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_mnist.backend import make_deterministic
from fashion_mnist.idx import parse_images, parse_labels
from fashion_mnist.model import build_model
from fashion_mnist.saving import save_model
from fashion_mnist.training import train_model

DEBIAN_COPY = Path("/usr/share/datasets/fashion-mnist")
SEED = 7
PHOTO_SHAPE = (400, 300)
ITEM_SIDE = 196
LUMINANCE = np.array([0.299, 0.587, 0.114])


def read_real_split(prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """The real `train` or `t10k` split from Debian's copy: (N, 28, 28, 1) uint8 images and their labels."""
    images_path = DEBIAN_COPY / f"{prefix}-images-idx3-ubyte.gz"
    labels_path = DEBIAN_COPY / f"{prefix}-labels-idx1-ubyte.gz"
    images = parse_images(images_path, gzip.decompress(images_path.read_bytes()))
    return images, parse_labels(labels_path, gzip.decompress(labels_path.read_bytes()))


def train_small_model(path: Path, count: int = 8000, epochs: int = 2) -> Path:
    """A blog_cnn trained briefly on the first `count` real training images, saved as the pipeline saves its models."""
    images, labels = read_real_split("train")
    make_deterministic(SEED)
    model = build_model("blog_cnn")
    train_model(
        model,
        images=images[:count],
        labels=labels[:count],
        validation_data=None,
        epochs=epochs,
        batch_size=64,
        learning_rate=0.001,
        seed=SEED,
        checkpoint_dir=path.parent / "checkpoint",
    )
    save_model(model, path)
    return path


def photograph(
    image: np.ndarray, backdrop: np.ndarray, ink: np.ndarray, random: np.random.Generator, noise: float = 3
) -> Image.Image:
    """A 300x400 RGB 'photo' of a 28x28 Fashion-MNIST item in `ink` on `backdrop`, enlarged, off-centre, noisy."""
    item = Image.fromarray(image).resize((ITEM_SIDE, ITEM_SIDE), Image.Resampling.BICUBIC)
    intensity = np.asarray(item, dtype=np.float64)[..., np.newaxis] / 255
    height, width = PHOTO_SHAPE
    canvas = np.broadcast_to(backdrop, (height, width, 3)).copy()
    top, left = random.integers(20, height - ITEM_SIDE - 20), random.integers(20, width - ITEM_SIDE - 20)
    canvas[top : top + ITEM_SIDE, left : left + ITEM_SIDE] = backdrop * (1 - intensity) + ink * intensity
    canvas += random.normal(0, noise, size=canvas.shape)
    return Image.fromarray(np.clip(np.round(canvas), 0, 255).astype(np.uint8))


def grey(level: float) -> np.ndarray:
    return np.full(3, float(level))


def dark_on_light_paper(random: np.random.Generator, colour: bool) -> tuple[np.ndarray, np.ndarray]:
    """Cream or light grey paper under a dark item, tinted or grey."""
    if colour:
        return np.array([242.0, 236.0, 225.0]), random.uniform(0, 90, size=3)
    return grey(235), grey(random.uniform(0, 60))


def light_on_mid_grey(random: np.random.Generator, colour: bool) -> tuple[np.ndarray, np.ndarray]:
    """A grey table, from darker to lighter than middle grey, under a white or light-tinted item."""
    table = grey(random.uniform(90, 170))
    return table, random.uniform(190, 255, size=3) if colour else grey(random.uniform(215, 255))


def dark_on_dark_grey(random: np.random.Generator, colour: bool) -> tuple[np.ndarray, np.ndarray]:
    """A dark grey backdrop under a black or nearly black item."""
    backdrop = grey(random.uniform(60, 90))
    return backdrop, random.uniform(0, 20, size=3) if colour else grey(random.uniform(0, 15))


def white_on_light_grey(random: np.random.Generator, colour: bool) -> tuple[np.ndarray, np.ndarray]:
    """Light grey under a white item: little contrast, 25 to 65 levels."""
    return grey(random.uniform(190, 215)), grey(random.uniform(240, 255))


def same_luminance(random: np.random.Generator, colour: bool) -> tuple[np.ndarray, np.ndarray]:
    """A coloured backdrop under an item of another hue and the same luminance (within a level)."""
    while True:
        target = random.uniform(70, 150)
        hue = random.uniform(0, 1)
        backdrop, ink = (
            np.array(colorsys.hsv_to_rgb(shade, random.uniform(0.5, 0.9), 1.0)) for shade in (hue, hue + 0.5)
        )
        # Scaled to the target luminance; a colour that would pass 255 is drawn again.
        backdrop, ink = (tint * target / (tint @ LUMINANCE) for tint in (backdrop, ink))
        if max(backdrop.max(), ink.max()) <= 255 and np.sqrt(np.mean((backdrop - ink) ** 2)) > 40:
            return backdrop, ink


Scene = Callable[[np.random.Generator, bool], tuple[np.ndarray, np.ndarray]]
SCENES: dict[str, Scene] = {
    "dark on light paper": dark_on_light_paper,
    "light on mid grey": light_on_mid_grey,
    "dark on dark grey": dark_on_dark_grey,
    "white on light grey": white_on_light_grey,
    "colour on the same luminance": same_luminance,
}


def write_photos(images: np.ndarray, folder: Path, scene: Scene = dark_on_light_paper) -> list[Path]:
    """Save each image as a photo of `scene`: alternately PNG, grayscale for a grey scene, and colour JPEG."""
    random = np.random.default_rng(SEED)
    folder.mkdir(parents=True)
    paths = []
    for index, image in enumerate(images):
        colour = index % 2 == 1
        backdrop, ink = scene(random, colour)
        picture = photograph(image, backdrop, ink, random)
        path = folder / (f"{index}.jpg" if colour else f"{index}.png")
        grayscale = not colour and np.ptp(backdrop) == 0 and np.ptp(ink) == 0
        (picture.convert("L") if grayscale else picture).save(path, quality=85)  # PNG ignores the quality.
        paths.append(path)
    return paths
