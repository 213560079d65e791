"""Turn a photo into a 28x28 image the way Fashion-MNIST's were made: a light item on black, cropped, centred.

Zalando made Fashion-MNIST from product photos of one item on white: trim to the item, fit its longer side
to 28 pixels, centre, negate, 8-bit grey. A photo with a plain background is treated the same way, the
item being whatever differs from the background. A photo of clothes on a bed, a floor or a hanger has no
plain background: OpenCV's GrabCut separates the item from it first, starting from a box that the caller
may give (the page of `fashion-mnist serve` lets the user draw it).
"""

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
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
# GrabCut's box, when none is given: this far inside the photo's edge on every side. What lies outside
# the box is taken as background, so an item that runs off the frame loses only this margin.
GRABCUT_MARGIN = 0.04
GRABCUT_ITERATIONS = 5
# A region found by GrabCut smaller than this share of its box is a speck or a shadow, not the item.
SMALLEST_ITEM = 0.02
# A second region at least this large against the largest is a second item: most often a pair of shoes.
SECOND_ITEM = 0.5
# Fashion-MNIST's garments are narrower than tall: 95% of its pullovers, coats, dresses and trousers are at most
# 0.9 as wide as tall, its T-shirts and shirts at most 1.0 (tests/test_real_data.py). A garment laid flat with
# its sleeves spread is wider, and the model takes it for a bag; separated by GrabCut, it is narrowed to at
# most this width for its height, which did better on the development photos than 0.6 to 0.85 or 1.0.
WIDEST_GARMENT = 0.9
# Photos are reduced to at most this many pixels on their longer side as they are read: the item ends up
# 28 pixels tall, and a 12-megapixel photo would otherwise cost hundreds of MB of arrays.
WORKING_SIDE = 1024


class PhotoError(DataError):
    """A photo in which no item can be told from its background."""


class NoPlainBackgroundError(PhotoError):
    """A photo whose background is too busy, or too like the item, to take the item as whatever differs from it."""


@dataclass(frozen=True)
class PreparedPhoto:
    """Each step from a photo to the model's input, for showing as well as for the model."""

    # (H, W) bool: the pixels taken as the item.
    item: np.ndarray
    # The item's rows and columns in the photo: the crop.
    rows: slice
    columns: slice
    # (h, w) float32, 0-255: the crop as a light item on black, before it is resized.
    negated: np.ndarray
    # (28, 28) uint8: the model's input.
    image: np.ndarray
    # "plain background" or "GrabCut".
    method: str


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


def item_pixels(difference: np.ndarray) -> np.ndarray:
    """The (H, W) bool map of the pixels that differ from a plain background: the item."""
    levels = smoothed(difference)
    busy = float(np.mean(edge(levels) > OBJECT_THRESHOLD))
    if busy > MAXIMUM_BUSY_EDGE:
        raise NoPlainBackgroundError(
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
        raise NoPlainBackgroundError(
            f"cannot tell the item from the background: it differs from it by at most {contrast:.0f} levels of "
            f"255, and the background itself varies by {variation:.0f}; expected a difference of {needed:.0f} "
            "or more: photograph the item on a plain background of another colour or brightness"
        )
    return levels > threshold


def bounding_box(item: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns that hold the True pixels of an (H, W) map."""
    rows, columns = np.flatnonzero(item.any(axis=1)), np.flatnonzero(item.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def object_box(difference: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of the pixels that differ from the background: the item's bounding box."""
    return bounding_box(item_pixels(difference))


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


def prepare_on_plain_background(image: np.ndarray) -> PreparedPhoto:
    """The item as whatever differs from a plain background, its brightness how much it differs."""
    # Lighter, darker or another colour: Fashion-MNIST's items are light on black, and their texture survives.
    difference = difference_from_background(image, background_colour(image))
    item = item_pixels(difference)
    rows, columns = bounding_box(item)
    # The background's own noise is taken off, so that it stays black as in Fashion-MNIST rather than a grey
    # fog once the levels are stretched; at most half the largest threshold, as an item may cover a tenth
    # of the edge.
    noise = min(float(np.percentile(edge(difference), 90)), OBJECT_THRESHOLD / 2)
    negated = np.clip(difference[rows, columns] - noise, 0, None).astype(np.float32)
    square = Image.fromarray(pad_to_square(negated))
    resized = np.asarray(square.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS))
    return PreparedPhoto(item, rows, columns, negated, stretch_levels(resized), "plain background")


def default_box(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """GrabCut's box when none is given, as (left, top, width, height): GRABCUT_MARGIN inside every edge."""
    height, width = shape[:2]
    left, top = round(width * GRABCUT_MARGIN), round(height * GRABCUT_MARGIN)
    return left, top, width - 2 * left, height - 2 * top


def check_box(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A box (left, top, width, height) clipped to the photo; an error when too little of it is left."""
    height, width = shape[:2]
    left, top, box_width, box_height = (int(value) for value in box)
    right, bottom = min(width, left + box_width), min(height, top + box_height)
    left, top = max(0, left), max(0, top)
    if right - left < 4 or bottom - top < 4:
        raise PhotoError(
            f"the box around the item, {box_width}x{box_height} at ({left}, {top}), leaves less than 4x4 pixels "
            f"of the {width}x{height} photo; expected a box around the item, inside the photo"
        )
    return left, top, right - left, bottom - top


def grabcut_item(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The (H, W) bool map of the item inside `box` (left, top, width, height), by GrabCut: its largest region."""
    mask = np.zeros(image.shape[:2], dtype=np.uint8)
    background_model, item_model = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut starts its colour models with k-means on OpenCV's random generator: seeded, every run is the same.
    cv2.setRNGSeed(0)
    cv2.grabCut(
        np.ascontiguousarray(image[..., ::-1]),
        mask,
        box,
        background_model,
        item_model,
        GRABCUT_ITERATIONS,
        cv2.GC_INIT_WITH_RECT,
    )
    found = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    count, labels, statistics, _ = cv2.connectedComponentsWithStats(found, connectivity=8)
    areas = statistics[1:, cv2.CC_STAT_AREA]
    box_area = box[2] * box[3]
    if count < 2 or areas.max() < SMALLEST_ITEM * box_area:
        raise PhotoError(
            "cannot tell the item from the background: no region inside the box stands out from what lies "
            f"outside it (the largest covers {areas.max() / box_area if count > 1 else 0:.1%} of the box, expected "
            f"{SMALLEST_ITEM:.0%} or more); expected one item, most of it inside the box"
        )
    largest, second = np.argsort(areas)[::-1][:2] if count > 2 else (np.argmax(areas), None)
    if second is not None and areas[second] >= SECOND_ITEM * areas[largest]:
        raise PhotoError(
            f"found two items of about the same size ({areas[second] / areas[largest]:.0%} of the larger), most "
            "often a pair of shoes; expected one item: photograph one garment, or one shoe from the side, as "
            "Fashion-MNIST shows them, or draw the box around one of them"
        )
    return labels == 1 + largest


def garment_size(height: int, width: int) -> tuple[int, int]:
    """The 28x28 input's rows and columns for an item crop of `height` x `width`: the longer side 28, and
    at most WIDEST_GARMENT as wide as tall."""
    ratio = min(width / height, WIDEST_GARMENT)
    return IMAGE_SIZE, max(1, round(IMAGE_SIZE * ratio))


def prepare_by_grabcut(image: np.ndarray, box: tuple[int, int, int, int] | None = None) -> PreparedPhoto:
    """The item separated from a busy background by GrabCut, then Fashion-MNIST's conversion: negated grey."""
    box = default_box(image.shape) if box is None else check_box(box, image.shape)
    item = grabcut_item(image, box)
    rows, columns = bounding_box(item)
    grey = np.asarray(Image.fromarray(image).convert("L"), dtype=np.float32)[rows, columns]
    negated = np.where(item[rows, columns], 255 - grey, 0).astype(np.float32)
    height, width = garment_size(*negated.shape)
    resized = np.asarray(Image.fromarray(negated).resize((width, height), Image.Resampling.LANCZOS))
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    left = (IMAGE_SIZE - width) // 2
    canvas[:, left : left + width] = resized
    return PreparedPhoto(item, rows, columns, negated, stretch_levels(canvas), "GrabCut")


def prepare_steps(image: np.ndarray, box: tuple[int, int, int, int] | None = None) -> PreparedPhoto:
    """Each step from a photo, (H, W) grayscale or (H, W, 3) RGB uint8, to its 28x28 Fashion-MNIST image.

    With a plain background the item is whatever differs from it; otherwise, or when a box (left, top,
    width, height) around the item is given, GrabCut separates it.
    """
    if box is None:
        try:
            return prepare_on_plain_background(image)
        except NoPlainBackgroundError:
            pass
    colour = np.repeat(image[..., np.newaxis], 3, axis=-1) if image.ndim == 2 else image
    return prepare_by_grabcut(np.ascontiguousarray(colour), box)


def prepare_image(image: np.ndarray) -> np.ndarray:
    """A photo, (H, W) grayscale or (H, W, 3) RGB uint8, as a 28x28 uint8 Fashion-MNIST image: light on black."""
    return prepare_steps(image).image


def prepare_photo(path: Path) -> np.ndarray:
    """Read an image file and prepare it for the model: a 28x28 uint8 array, light item on black."""
    image = load_photo(path)
    try:
        return prepare_image(image)
    except PhotoError as error:
        raise PhotoError(f"{path}: {error}") from None
