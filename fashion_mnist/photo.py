"""Turn a photo into a 28x28 image the way Fashion-MNIST's were made: a light item on black, cropped, centred."""

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from fashion_mnist.errors import DataError
from fashion_mnist.idx import IMAGE_SIZE

# How far from the background a smoothed pixel must be to count as the item, in 0-255 levels: 10% of the
# item's own contrast (Fashion-MNIST trimmed its white backgrounds at 5%), so that a faint item is found to
# its edges; but at least 8 levels and 3 times the background's own variation, which JPEG and uneven light
# give a few levels, and at most 26 levels (10% of full scale), which keeps soft shadows out of the box.
ITEM_FRACTION = 0.1
LOWEST_THRESHOLD = 8
NOISE_MARGIN = 3
OBJECT_THRESHOLD = 26
# The least contrast at which an item is told from its background: 20 levels, and 6 times the background's
# own variation. On photos made from test images, items below either scored well under the originals: the
# box falls on their brightest parts, and the stretched levels are mostly noise.
MINIMUM_CONTRAST = 20
CONTRAST_OVER_NOISE = 6
# More of the photo's edge than this unlike its median colour means there is no plain background.
MAXIMUM_BUSY_EDGE = 0.5
# Every Fashion-MNIST image has at least 19 pixels at 1/8 of its brightest or more; an input with fewer is
# a speck, not an item.
LIT_LEVEL = 32
MINIMUM_LIT_PIXELS = 19
# Photos are reduced to at most this many pixels on their longer side as they are read: the item ends up
# 28 pixels tall, and a 12-megapixel photo would otherwise cost hundreds of MB of arrays.
WORKING_SIDE = 1024


class PhotoError(DataError):
    """A photo in which no item can be told from its background."""


def load_photo(path: Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 RGB array, upright as its EXIF tag says, reduced as it is read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: image file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); expected an image such as a JPEG or PNG photo")
    try:
        # Pillow only warns between its pixel limit and twice that; `reduce_while_reading` refuses or reduces
        # those images itself, before they are decoded.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return to_rgb(ImageOps.exif_transpose(reduce_while_reading(image, path)))
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file Pillow can read; expected a JPEG, PNG or similar photo") from None
    except Image.DecompressionBombError as error:
        raise DataError(f"{path}: too large to open safely ({error})") from None
    except OSError as error:  # A truncated or corrupt file: Pillow identified it but cannot decode it.
        raise DataError(f"{path}: cannot decode the image ({error}); expected a complete image file") from None


def reduce_while_reading(image: Image.Image, path: Path) -> Image.Image:
    """Decode an opened image at most WORKING_SIDE pixels on its longer side; refuse one too large to decode whole."""
    width, height = image.size
    longer = max(width, height)
    if image.format == "JPEG":
        # The JPEG decoder scales by 1/2, 1/4 or 1/8 as it decodes, so the full-size image never exists.
        image.draft(None, (max(1, width * WORKING_SIDE // longer), max(1, height * WORKING_SIDE // longer)))
    elif Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
        raise DataError(
            f"{path}: too large to open safely: {width}x{height} pixels ({width * height / 1e6:.0f} megapixels) "
            f"is more than the {Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels Pillow decodes safely, and a "
            f"{image.format or 'file of this'} image is decoded whole; expected a smaller photo: scale it down, "
            "or save it as a JPEG, which is reduced while it is read"
        )
    image.load()
    # Image.reduce takes these modes; 16-bit grayscale becomes 32-bit and the others 8-bit colour first.
    if image.mode.startswith("I;16"):
        image = image.convert("I")
    elif image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        transparent = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "RGB")
    factor = math.ceil(max(image.size) / WORKING_SIDE)
    return image.reduce(factor) if factor > 1 else image


def to_rgb(image: Image.Image) -> np.ndarray:
    """Convert a Pillow image of any mode to an (H, W, 3) uint8 RGB array, transparent areas filled."""
    if image.mode == "I" or image.mode.startswith("I;16"):
        # 16-bit grayscale: Pillow's convert("L") clips at 255 instead of scaling.
        levels = np.asarray(image.convert("I"), dtype=np.float32)
        grey = np.clip(np.round(levels / 257), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., np.newaxis], 3, axis=-1)
    if "A" not in image.getbands() and "transparency" not in image.info:
        return np.asarray(image.convert("RGB"))
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
    colour, opacity = rgba[..., :3], rgba[..., 3:] / 255
    # Show transparent areas in the shade that contrasts with the item, so a white item on a transparent
    # background does not vanish into white.
    luminance = colour @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    item = np.average(luminance, weights=opacity[..., 0]) if opacity.sum() else 0.0
    backdrop = 0.0 if item > 127 else 255.0
    return np.round(colour * opacity + backdrop * (1 - opacity)).astype(np.uint8)


def as_colour(image: np.ndarray) -> np.ndarray:
    """A (H, W) grayscale or (H, W, C) image as (H, W, C) float32 levels."""
    image = np.asarray(image, dtype=np.float32)
    return image[..., np.newaxis] if image.ndim == 2 else image


def edge(image: np.ndarray) -> np.ndarray:
    """The outermost rows and columns of an (H, W, ...) array, as one run of pixels."""
    return np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])


def background_colour(image: np.ndarray) -> np.ndarray:
    """The median colour of the photo's edge, per channel: the background, for an item that fits in the photo."""
    return np.median(edge(as_colour(image)), axis=0)


def difference_from_background(image: np.ndarray, background: np.ndarray) -> np.ndarray:
    """How far each pixel's colour is from the background's, 0 to 255: the RMS over channels of the difference."""
    # The root mean square over channels is the plain level difference on grayscale, whichever is lighter,
    # and tells a red item from a green background of the same luminance.
    return np.sqrt(np.mean((as_colour(image) - background) ** 2, axis=-1))


def smoothed(difference: np.ndarray) -> np.ndarray:
    """The difference map after a 3x3 median, which removes JPEG's isolated noise without moving the item's edges."""
    levels = Image.fromarray(np.clip(np.round(difference), 0, 255).astype(np.uint8))
    return np.asarray(levels.filter(ImageFilter.MedianFilter(3)))


def background_variation(levels: np.ndarray) -> float:
    """How far the photo's edge strays from the background's colour: the 90th percentile of its smoothed levels."""
    # A percentile, not the maximum, so that an item touching a little of the edge does not count as noise.
    return float(np.percentile(edge(levels), 90))


def item_threshold(contrast: float, variation: float) -> float:
    """The difference from the background beyond which a smoothed pixel is the item's, in 0-255 levels."""
    return min(OBJECT_THRESHOLD, max(LOWEST_THRESHOLD, NOISE_MARGIN * variation, ITEM_FRACTION * contrast))


def object_box(difference: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of the pixels that differ from the background: the item's bounding box."""
    levels = smoothed(difference)
    busy = float(np.mean(edge(levels) > OBJECT_THRESHOLD))
    if busy > MAXIMUM_BUSY_EDGE:
        raise PhotoError(
            f"cannot tell the item from the background: {busy:.0%} of the photo's edge differs from its median "
            f"colour by more than {OBJECT_THRESHOLD} levels; expected one item on a plain background, with a "
            "margin of background around it"
        )
    contrast, variation = float(levels.max()), background_variation(levels)
    threshold = item_threshold(contrast, variation)
    if contrast <= threshold:
        raise PhotoError(
            f"found no item: all {difference.shape[1]}x{difference.shape[0]} pixels are within {threshold:.0f} "
            "levels of the background; expected a photo of one item on a plain background"
        )
    needed = max(MINIMUM_CONTRAST, CONTRAST_OVER_NOISE * variation)
    if contrast < needed:
        raise PhotoError(
            f"cannot tell the item from the background: it differs from it by at most {contrast:.0f} levels of "
            f"255, and the background itself varies by {variation:.0f}; expected a difference of {needed:.0f} "
            "or more: photograph the item on a plain background of another colour or brightness"
        )
    differs = levels > threshold
    rows, columns = np.flatnonzero(differs.any(axis=1)), np.flatnonzero(differs.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def pad_to_square(image: np.ndarray) -> np.ndarray:
    """Centre the image on a black square as wide as its longer side, keeping its aspect ratio."""
    height, width = image.shape
    side = max(height, width)
    square = np.zeros((side, side), dtype=image.dtype)
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = image
    return square


def stretch_levels(intensity: np.ndarray) -> np.ndarray:
    """A 28x28 map of differences from the background as uint8, its brightest pixel 255 as in Fashion-MNIST's."""
    # Lanczos overshoots below zero beside sharp edges.
    intensity = np.clip(intensity, 0, None)
    peak = float(intensity.max())
    stretched = np.round(intensity * 255 / peak).astype(np.uint8) if peak > 0 else intensity.astype(np.uint8)
    lit = int(np.count_nonzero(stretched >= LIT_LEVEL))
    if lit < MINIMUM_LIT_PIXELS:
        raise PhotoError(
            f"the prepared image is nearly blank: {lit} of its {IMAGE_SIZE}x{IMAGE_SIZE} pixels are lit, "
            f"expected at least {MINIMUM_LIT_PIXELS}; photograph one item filling much of the photo, with no "
            "specks or marks far from it"
        )
    return stretched


def prepare_image(image: np.ndarray) -> np.ndarray:
    """A photo, (H, W) grayscale or (H, W, 3) RGB uint8, as a 28x28 uint8 Fashion-MNIST image: light on black."""
    # The item is whatever differs from the background, lighter, darker or another colour, and its brightness
    # is how much it differs: Fashion-MNIST's items are light on black, and their texture survives.
    difference = difference_from_background(image, background_colour(image))
    rows, columns = object_box(difference)
    # The background's own noise is taken off, so that it stays black as in Fashion-MNIST rather than a grey
    # fog once the levels are stretched; at most half the largest threshold, as an item may cover a tenth
    # of the edge.
    noise = min(float(np.percentile(edge(difference), 90)), OBJECT_THRESHOLD / 2)
    item = np.clip(difference[rows, columns] - noise, 0, None)
    square = Image.fromarray(pad_to_square(item).astype(np.float32))
    return stretch_levels(np.asarray(square.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)))


def prepare_photo(path: Path) -> np.ndarray:
    """Read an image file and prepare it for the model: a 28x28 uint8 array, light item on black."""
    image = load_photo(path)
    try:
        return prepare_image(image)
    except PhotoError as error:
        raise PhotoError(f"{path}: {error}") from None
