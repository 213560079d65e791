"""Turn a photo into a 28x28 image the way Fashion-MNIST's were made: a light item on black, cropped, centred."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from fashion_mnist.errors import DataError
from fashion_mnist.idx import IMAGE_SIZE

# How far from the background a pixel must be to count as the item, in 0-255 levels (10%). Fashion-MNIST
# trimmed at 5%; a photo's background is less even than a product shot's, and JPEG adds noise of a few levels.
OBJECT_THRESHOLD = 26


def load_grayscale(path: Path) -> np.ndarray:
    """Read an image file as a 2-D uint8 grayscale array, upright as its EXIF orientation says."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: image file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); expected an image such as a JPEG or PNG photo")
    try:
        with Image.open(path) as image:
            return to_grayscale(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file Pillow can read; expected a JPEG, PNG or similar photo") from None
    except Image.DecompressionBombError as error:
        raise DataError(f"{path}: too large to open safely ({error})") from None
    except OSError as error:  # A truncated or corrupt file: Pillow identified it but cannot decode it.
        raise DataError(f"{path}: cannot decode the image ({error}); expected a complete image file") from None


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Convert a Pillow image of any mode to a 2-D uint8 array of luminance, 0 black to 255 white."""
    if image.mode == "I" or image.mode.startswith("I;16"):
        # 16-bit grayscale: Pillow's convert("L") clips at 255 instead of scaling.
        levels = np.asarray(image.convert("I"), dtype=np.float64)
        return np.clip(np.round(levels / 257), 0, 255).astype(np.uint8)
    if "A" not in image.getbands() and "transparency" not in image.info:
        return np.asarray(image.convert("L"))
    luminance, alpha = (np.asarray(band, dtype=np.float64) for band in image.convert("LA").split())
    opacity = alpha / 255
    # Show transparent areas in the colour that contrasts with the item, so a white item on a transparent
    # background does not vanish into white.
    item = np.average(luminance, weights=opacity) if opacity.sum() else 0.0
    backdrop = 0.0 if item > 127 else 255.0
    return np.round(luminance * opacity + backdrop * (1 - opacity)).astype(np.uint8)


def border_level(image: np.ndarray) -> float:
    """The median level of the outermost rows and columns: the background, for an item that fits in the photo."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return float(np.median(border))


def light_on_dark(image: np.ndarray) -> np.ndarray:
    """Invert an image whose background is light, because Fashion-MNIST's items are light on black."""
    return 255 - image if border_level(image) > 127 else image


def object_box(image: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of the pixels that differ from the background: the item's bounding box."""
    # A 3x3 median removes JPEG's isolated noise and ringing without moving the item's edges.
    smoothed = np.asarray(Image.fromarray(image).filter(ImageFilter.MedianFilter(3)), dtype=np.int16)
    differs = np.abs(smoothed - border_level(image)) > OBJECT_THRESHOLD
    rows, columns = np.flatnonzero(differs.any(axis=1)), np.flatnonzero(differs.any(axis=0))
    if rows.size == 0:
        raise ValueError(
            f"found no item: all {image.shape[1]}x{image.shape[0]} pixels are within {OBJECT_THRESHOLD} levels "
            "of the background; expected a photo of one item on a plain background"
        )
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def black_background(image: np.ndarray) -> np.ndarray:
    """Stretch the levels of a dark-background image so that its background becomes 0 and white stays 255."""
    background = border_level(image)
    stretched = (image.astype(np.float64) - background) * 255 / (255 - background)
    return np.clip(np.round(stretched), 0, 255).astype(np.uint8)


def pad_to_square(image: np.ndarray) -> np.ndarray:
    """Centre the image on a black square as wide as its longer side, keeping its aspect ratio."""
    height, width = image.shape
    side = max(height, width)
    square = np.zeros((side, side), dtype=image.dtype)
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = image
    return square


def prepare_image(image: np.ndarray) -> np.ndarray:
    """A 2-D uint8 grayscale photo as a 28x28 uint8 Fashion-MNIST image: light on black, cropped, centred."""
    image = light_on_dark(image)
    rows, columns = object_box(image)
    # The background level is read before cropping, from the photo's own border.
    item = black_background(image)[rows, columns]
    square = Image.fromarray(pad_to_square(item))
    return np.asarray(square.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS))


def prepare_photo(path: Path) -> np.ndarray:
    """Read an image file and prepare it for the model: a 28x28 uint8 array, light item on black."""
    image = load_grayscale(path)
    try:
        return prepare_image(image)
    except ValueError as error:
        raise DataError(f"{path}: {error}") from None
