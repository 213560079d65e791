"""Classifying photos: preparation the way Fashion-MNIST was made, the command line, and its errors."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from fashion_mnist import photo
from fashion_mnist.dataset import CLASS_NAMES
from fashion_mnist.explanation import explanation_figure
from fashion_mnist.export import calibration_images, int8_model
from fashion_mnist.loading import load_model
from fashion_mnist.predict import main, output_names, predict_probabilities, top_classes
from fashion_mnist.saving import save_model
from fashion_mnist.stage import run_stage
from tests.conftest import REPOSITORY, run
from tests.photographs import (
    SCENES,
    SEED,
    dark_on_light_paper,
    light_on_mid_grey,
    photograph,
    read_real_split,
    train_small_model,
    write_photos,
)

needs_real_data = pytest.mark.usefixtures("real_data")


@pytest.fixture(scope="module")
def test_split() -> tuple[np.ndarray, np.ndarray]:
    """The first 200 images of the real test split, (N, 28, 28) uint8, and their labels."""
    images, labels = read_real_split("t10k")
    return images[:200, :, :, 0], labels[:200]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    """A blog_cnn trained briefly on 8,000 real training images, saved as the pipeline saves its models."""
    return train_small_model(tmp_path_factory.mktemp("model") / "model.keras")


def accuracy(model_path: Path, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predict_probabilities(model_path, images).argmax(axis=1) == labels))


@needs_real_data
def test_prepared_photos_score_close_to_the_originals_and_naive_resizing_does_not(model_path, test_split, tmp_path):
    images, labels = test_split
    photos = write_photos(images, tmp_path / "photos")
    prepared = np.stack([photo.prepare_photo(path) for path in photos])
    # What a classifier sees without preparation: the whole photo, grayscale, squeezed to 28x28.
    naive = np.stack(
        [np.asarray(Image.open(path).convert("L").resize((28, 28), Image.Resampling.LANCZOS)) for path in photos]
    )

    original_accuracy = accuracy(model_path, images, labels)
    prepared_accuracy = accuracy(model_path, prepared, labels)
    naive_accuracy = accuracy(model_path, naive, labels)
    print(f"accuracy: original {original_accuracy:.3f}, prepared {prepared_accuracy:.3f}, naive {naive_accuracy:.3f}")
    assert original_accuracy > 0.7
    assert prepared_accuracy >= original_accuracy - 0.10
    assert naive_accuracy <= prepared_accuracy - 0.30


def prepare_or_refuse(paths: list[Path]) -> tuple[np.ndarray, list[int], list[str]]:
    """The prepared photos, the indices of those prepared, and the refusals' messages."""
    prepared, kept, refusals = [], [], []
    for index, path in enumerate(paths):
        try:
            prepared.append(photo.prepare_photo(path))
            kept.append(index)
        except photo.PhotoError as error:
            refusals.append(str(error))
    return np.array(prepared).reshape(-1, 28, 28), kept, refusals


@needs_real_data
@pytest.mark.parametrize("scene", ["light on mid grey", "dark on dark grey", "colour on the same luminance"])
def test_photos_on_other_backgrounds_score_within_3_points_of_the_originals(model_path, test_split, tmp_path, scene):
    images, labels = test_split
    prepared, kept, refusals = prepare_or_refuse(write_photos(images, tmp_path / "photos", SCENES[scene]))
    assert refusals == []
    # Never a blank input: every item is light on black, its brightest pixel full white, as bright overall
    # as the originals, so neither inverted nor in a grey fog.
    assert prepared.reshape(len(prepared), -1).max(axis=1).min() == 255
    assert prepared.mean() == pytest.approx(images.mean(), rel=0.1)
    original_accuracy, prepared_accuracy = accuracy(model_path, images, labels), accuracy(model_path, prepared, labels)
    print(f"{scene}: original {original_accuracy:.3f}, prepared {prepared_accuracy:.3f}")
    assert prepared_accuracy >= original_accuracy - 0.03


@needs_real_data
def test_white_items_on_light_grey_are_classified_or_refused_never_blank(model_path, test_split, tmp_path):
    images, labels = test_split
    paths = write_photos(images, tmp_path / "photos", SCENES["white on light grey"])
    prepared, kept, refusals = prepare_or_refuse(paths)
    # A refusal says which photo and why.
    for message in refusals:
        assert message.split(": ")[0] in map(str, paths) and "cannot tell the item from the background" in message
    assert len(kept) >= 0.9 * len(paths), refusals
    lit = np.count_nonzero(prepared >= photo.LIT_LEVEL, axis=(1, 2))
    assert prepared.reshape(len(prepared), -1).max(axis=1).min() == 255 and lit.min() >= photo.MINIMUM_LIT_PIXELS
    original_accuracy = accuracy(model_path, images[kept], labels[kept])
    prepared_accuracy = accuracy(model_path, prepared, labels[kept])
    print(f"{len(refusals)} refused; original {original_accuracy:.3f}, prepared {prepared_accuracy:.3f}")
    assert prepared_accuracy >= original_accuracy - 0.03


@needs_real_data
def test_the_int8_export_classifies_prepared_photos_like_the_keras_model(model_path, test_split, tmp_path):
    images, labels = test_split
    int8_path = tmp_path / "model_int8.tflite"
    int8_path.write_bytes(int8_model(load_model(model_path), calibration_images(images[..., np.newaxis], 100, SEED)))
    prepared = np.stack([photo.prepare_photo(path) for path in write_photos(images, tmp_path / "photos")])
    keras_classes = predict_probabilities(model_path, prepared).argmax(axis=1)
    int8_classes = predict_probabilities(int8_path, prepared).argmax(axis=1)
    assert np.mean(int8_classes == keras_classes) >= 0.95
    assert accuracy(int8_path, prepared, labels) >= accuracy(model_path, prepared, labels) - 0.03


@needs_real_data
def test_the_command_prints_the_top_3_and_saves_the_model_input(model_path, test_split, tmp_path):
    images, labels = test_split
    # An item the model gets right on the original, so its photo should be classified the same way.
    probabilities = predict_probabilities(model_path, images)
    index = int(np.flatnonzero((probabilities.argmax(axis=1) == labels) & (probabilities.max(axis=1) > 0.8))[0])
    path = tmp_path / "my photo.jpg"
    random = np.random.default_rng(SEED)
    photograph(images[index], *dark_on_light_paper(random, colour=True), random).save(path, quality=80)

    result = run(
        [
            sys.executable,
            "-m",
            "fashion_mnist.predict",
            str(path),
            "--model",
            str(model_path),
            "--save-input",
            str(tmp_path / "inputs"),
        ],
        REPOSITORY,
    )
    line = result.stdout.splitlines()[-1]
    assert line.startswith(f"{path}: "), result.stdout
    predicted = [item.rsplit(" ", 1) for item in line.removeprefix(f"{path}: ").split(", ")]
    names, values = [name for name, _ in predicted], [float(value) for _, value in predicted]
    assert len(names) == 3 and set(names) <= set(CLASS_NAMES), line
    assert names[0] == CLASS_NAMES[labels[index]], line
    assert values == sorted(values, reverse=True) and sum(values) <= 1.001

    saved = tmp_path / "inputs" / "my photo_28x28.png"
    with Image.open(saved) as image:
        assert image.mode == "L" and image.size == (28, 28)
        np.testing.assert_array_equal(np.asarray(image), photo.prepare_photo(path))


@needs_real_data
def test_photos_of_the_same_name_in_different_folders_keep_their_own_model_inputs(model_path, test_split, tmp_path):
    images, _ = test_split
    random = np.random.default_rng(SEED)
    photos = []
    for index, folder in enumerate(["front", "back"]):
        (tmp_path / folder).mkdir()
        photos.append(tmp_path / folder / "shirt.jpg")
        photograph(images[index], *light_on_mid_grey(random, colour=True), random).save(photos[-1])
    main([*map(str, photos), "--model", str(model_path), "--save-input", str(tmp_path / "inputs")])
    # One file each, in the order given, each the input of its own photo.
    saved = [tmp_path / "inputs" / "shirt_28x28.png", tmp_path / "inputs" / "shirt_2_28x28.png"]
    assert sorted((tmp_path / "inputs").iterdir()) == sorted(saved)
    for path, source in zip(saved, photos, strict=True):
        np.testing.assert_array_equal(np.asarray(Image.open(path)), photo.prepare_photo(source))


def test_output_names_are_distinct_and_keep_each_photo_s_own_stem_where_they_can():
    photos = [Path("a/shirt.jpg"), Path("b/shirt.jpg"), Path("b/shirt_2.png"), Path("a/shirt.jpg"), Path("c/Shirt.png")]
    # The same photo twice is one name; shirt_2 is another photo's own; Shirt is shirt on a case-blind disk.
    assert output_names(photos) == ["shirt", "shirt_3", "shirt_2", "shirt", "Shirt_4"]


@needs_real_data
def test_explain_draws_each_photo_its_input_and_the_ten_probabilities(model_path, test_split, tmp_path, capsys):
    images, _ = test_split
    random = np.random.default_rng(SEED)
    shirt = tmp_path / "shirt.jpg"
    photograph(images[0], *light_on_mid_grey(random, colour=True), random).save(shirt)
    main([str(shirt), "--model", str(model_path), "--explain", str(tmp_path / "explained")])
    explained = tmp_path / "explained" / "shirt_explained.png"
    assert f"{shirt}: explanation saved as {explained}" in capsys.readouterr().out
    assert explained.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(explained) as figure:
        assert figure.size == (1200, 400)
    assert 10_000 < explained.stat().st_size < 500_000


def test_the_explanation_figure_shows_the_photo_the_input_and_labelled_probabilities():
    probabilities = np.array([0.02, 0.0, 0.05, 0.01, 0.0, 0.0, 0.12, 0.0, 0.8, 0.0])
    picture, model_input = np.zeros((40, 30, 3), dtype=np.uint8), np.full((28, 28), 7, dtype=np.uint8)
    figure = explanation_figure(picture, model_input, probabilities, title="bag.jpg")
    figure.draw_without_rendering()
    photo_axes, input_axes, bar_axes = figure.axes
    assert photo_axes.images[0].get_array().shape == (40, 30, 3)
    np.testing.assert_array_equal(input_axes.images[0].get_array(), model_input)
    assert [label.get_text() for label in bar_axes.get_yticklabels()] == list(CLASS_NAMES)
    assert [bar.get_width() for bar in bar_axes.patches] == pytest.approx(probabilities)
    assert [text.get_text() for text in bar_axes.texts] == [f"{value:.3f}" for value in probabilities]
    assert bar_axes.get_title() == "answer: Bag, probability 0.800"
    assert "add up to 1.00" in bar_axes.get_xlabel() and figure.get_suptitle() == "bag.jpg"


def test_top_classes_are_the_most_likely_in_order():
    probabilities = np.array([0.05, 0.0, 0.1, 0.0, 0.0, 0.6, 0.0, 0.25, 0.0, 0.0])
    assert top_classes(probabilities) == [("Sandal", 0.6), ("Sneaker", 0.25), ("Pullover", 0.1)]


# Preparation, on drawn images whose answer is known.


def rectangle_photo(background: int, item: int, rows: slice, columns: slice, shape=(120, 90)) -> np.ndarray:
    """A grayscale image of `shape` at level `background` with a rectangle at level `item`."""
    image = np.full(shape, background, dtype=np.uint8)
    image[rows, columns] = item
    return image


def colour_photo(background: tuple, item: tuple, rows: slice, columns: slice, shape=(120, 90)) -> np.ndarray:
    """An RGB image of `shape` in the colour `background` with a rectangle in the colour `item`."""
    image = np.empty((*shape, 3), dtype=np.uint8)
    image[:] = background
    image[rows, columns] = item
    return image


def test_the_item_is_light_on_black_whether_the_background_is_lighter_or_darker():
    box = {"rows": slice(30, 90), "columns": slice(20, 60)}
    # The same difference of 190 levels, dark on light and light on dark: the same Fashion-MNIST image.
    prepared = photo.prepare_image(rectangle_photo(background=230, item=40, **box))
    np.testing.assert_array_equal(prepared, photo.prepare_image(rectangle_photo(background=25, item=215, **box)))
    assert prepared[:, 0].max() == 0 and prepared.max() > 200
    # On mid-grey a lighter item and a darker one are both found, light on black.
    for item in (240, 30):
        on_grey = photo.prepare_image(rectangle_photo(background=128, item=item, **box))
        np.testing.assert_array_equal(on_grey, prepared)


def test_a_white_item_on_grey_keeps_its_texture():
    # A white shirt on a grey table, with stripes of 200 on 250 over a table at 128. Taking polarity from
    # the border alone turned the shirt darker than the table, and then clipped it all to black.
    image = rectangle_photo(background=128, item=250, rows=slice(20, 100), columns=slice(15, 75))
    for top in range(28, 100, 16):
        image[top : top + 8, 15:75] = 200
    prepared = photo.prepare_image(image)
    down_the_middle = prepared[2:26, 14]
    assert prepared.max() == 255 and down_the_middle.max() > 230
    # The stripes, 72 levels above the table against 122, stay about 72/122 as bright: neither lost nor flat.
    assert 100 < down_the_middle.min() < 200


def test_a_dark_item_on_dark_grey_becomes_light_on_black():
    prepared = photo.prepare_image(rectangle_photo(background=70, item=15, rows=slice(30, 90), columns=slice(20, 60)))
    assert prepared.max() == 255 and prepared[:, 0].max() == 0


def test_a_coloured_item_on_a_background_of_the_same_luminance_is_found():
    # Red and green of one luminance: the same grey level, 88, but far apart in colour.
    red, green = (200, 40, 40), (40, 118, 57)
    assert np.asarray(Image.fromarray(np.array([[red, green]], dtype=np.uint8)).convert("L")).tolist() == [[88, 88]]
    image = colour_photo(background=green, item=red, rows=slice(30, 90), columns=slice(20, 60))
    assert photo.object_box(photo.difference_from_background(image, photo.background_colour(image))) == (
        slice(30, 90),
        slice(20, 60),
    )
    prepared = photo.prepare_image(image)
    assert prepared.max() == 255 and prepared[:, 0].max() == 0


def test_the_item_is_cropped_centred_and_keeps_its_aspect_ratio():
    # 40 rows by 20 columns, off-centre: it fills the 28 rows and the middle 14 columns.
    image = rectangle_photo(background=10, item=250, rows=slice(70, 110), columns=slice(5, 25))
    prepared = photo.prepare_image(image)
    assert prepared.shape == (28, 28) and prepared.dtype == np.uint8
    bright = prepared > 127
    assert np.flatnonzero(bright.any(axis=1)).tolist() == list(range(28))
    assert np.flatnonzero(bright.any(axis=0)).tolist() == list(range(7, 21))


def test_pad_to_square_centres_on_black():
    square = photo.pad_to_square(np.full((2, 6), 9, dtype=np.uint8))
    expected = np.zeros((6, 6), dtype=np.uint8)
    expected[2:4] = 9
    np.testing.assert_array_equal(square, expected)


def background_difference(image: np.ndarray) -> np.ndarray:
    return photo.difference_from_background(image, photo.background_colour(image))


def test_the_item_is_found_through_jpeg_noise(tmp_path: Path):
    image = rectangle_photo(background=225, item=70, rows=slice(30, 80), columns=slice(15, 45)).astype(np.float64)
    # Noise this strong puts pixels past the threshold all over the photo; the median filter removes them.
    noisy = np.clip(image + np.random.default_rng(SEED).normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "noisy.jpg", quality=60)
    rows, columns = photo.object_box(background_difference(photo.load_photo(tmp_path / "noisy.jpg")))
    assert abs(rows.start - 30) <= 1 and abs(rows.stop - 80) <= 1
    assert abs(columns.start - 15) <= 1 and abs(columns.stop - 45) <= 1


def test_a_faint_item_is_found_to_its_edges():
    # 40 levels above a clean background: 10% of that, not a fixed 26 levels, is its edge.
    image = rectangle_photo(background=200, item=240, rows=slice(30, 90), columns=slice(20, 60))
    image[30:90, 20:25] = 215  # A faint sleeve, 15 levels above the background.
    assert photo.object_box(background_difference(image)) == (slice(30, 90), slice(20, 60))


def test_colour_transparent_palette_and_16_bit_images_load_as_rgb(tmp_path: Path):
    # Transparent areas are shown in the shade that contrasts with the item, whatever colour they hide.
    for item, hidden, backdrop in [(255, 255, 0), (30, 0, 255)]:
        rgba = np.full((50, 40, 4), (hidden, hidden, hidden, 0), dtype=np.uint8)
        rgba[10:40, 10:30] = (item, item, item, 255)
        Image.fromarray(rgba).save(tmp_path / "cutout.png")
        loaded = photo.load_photo(tmp_path / "cutout.png")
        assert loaded.shape == (50, 40, 3) and loaded.dtype == np.uint8
        assert loaded[0, 0].tolist() == [backdrop] * 3 and loaded[20, 20].tolist() == [item] * 3
        assert photo.prepare_photo(tmp_path / "cutout.png").max() > 200

    red = rectangle_photo(background=255, item=0, rows=slice(10, 40), columns=slice(10, 30))
    Image.fromarray(np.stack([np.full_like(red, 255), red, red], axis=-1)).convert("P").save(tmp_path / "palette.png")
    palette = photo.load_photo(tmp_path / "palette.png")
    assert palette[0, 0].tolist() == [255, 255, 255] and palette[20, 20].tolist() == [255, 0, 0]

    # 16-bit mid-grey is 128 in 8 bits (Pillow's own conversion would clip it to 255).
    deep = np.zeros((50, 40), dtype=np.uint16)
    deep[10:40, 10:30] = 128 * 257
    Image.fromarray(deep).save(tmp_path / "16-bit.png")
    assert Image.open(tmp_path / "16-bit.png").mode == "I;16"
    sixteen = photo.load_photo(tmp_path / "16-bit.png")
    assert sixteen.dtype == np.uint8 and sixteen[0, 0].tolist() == [0] * 3 and sixteen[20, 20].tolist() == [128] * 3


def test_exif_orientation_is_applied(tmp_path: Path):
    # Stored 60 wide and 30 tall; the camera's orientation tag 6 says to show it turned a quarter, 30 by 60.
    stored = rectangle_photo(background=240, item=20, rows=slice(5, 25), columns=slice(5, 45), shape=(30, 60))
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "turned.jpg", exif=exif)
    assert photo.load_photo(tmp_path / "turned.jpg").shape == (60, 30, 3)


def test_a_large_photo_is_reduced_as_it_is_read(tmp_path: Path):
    image = np.full((3000, 2400), 235, dtype=np.uint8)
    image[400:2600, 500:1900] = 30
    for name in ("large.jpg", "large.png"):
        Image.fromarray(image).save(tmp_path / name)
        loaded = photo.load_photo(tmp_path / name)
        assert max(loaded.shape) <= photo.WORKING_SIDE and loaded.shape[0] * 4 == loaded.shape[1] * 5
        assert photo.prepare_photo(tmp_path / name).max() == 255


# Errors: one line naming the file, exit status 1, no traceback.


def command_error(arguments: list[str]) -> str:
    """The message with which the command stops, as `python -m fashion_mnist.predict` would exit."""
    with pytest.raises(SystemExit) as stopped:
        run_stage(lambda: main(arguments))
    return str(stopped.value.code)


@pytest.fixture
def good_photo(tmp_path: Path) -> Path:
    path = tmp_path / "good.png"
    Image.fromarray(rectangle_photo(background=240, item=30, rows=slice(20, 90), columns=slice(20, 60))).save(path)
    return path


def write_bytes(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_a_missing_photo_stops_the_command_with_one_line(tmp_path: Path):
    missing = tmp_path / "missing.jpg"
    result = run([sys.executable, "-m", "fashion_mnist.predict", str(missing)], REPOSITORY, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"error: {missing}: image file not found"
    assert "Traceback" not in result.stderr


def test_an_empty_file_is_named(tmp_path: Path):
    empty = write_bytes(tmp_path / "empty.jpg", b"")
    assert command_error([str(empty)]).startswith(f"error: {empty}: the file is empty (0 bytes); expected an image")


def test_a_file_that_is_not_an_image_is_named(tmp_path: Path):
    text = write_bytes(tmp_path / "notes.jpg", b"a shopping list, not a photo\n")
    assert command_error([str(text)]).startswith(f"error: {text}: not an image file Pillow can read")


def test_a_truncated_image_is_named(tmp_path: Path, good_photo: Path):
    Image.open(good_photo).save(tmp_path / "whole.jpg")
    cut = write_bytes(tmp_path / "cut.jpg", (tmp_path / "whole.jpg").read_bytes()[:400])
    assert command_error([str(cut)]).startswith(f"error: {cut}: cannot decode the image")


def test_an_image_too_large_to_open_safely_is_named(tmp_path: Path, good_photo: Path, monkeypatch):
    # Pillow refuses images of more than twice MAX_IMAGE_PIXELS; a small limit stands in for a huge photo.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert command_error([str(good_photo)]).startswith(f"error: {good_photo}: too large to open safely")


@pytest.mark.parametrize("shape", [(1, 1), (40, 30)])
def test_an_image_of_one_colour_has_nothing_to_crop(tmp_path: Path, shape):
    plain = tmp_path / "plain.png"
    Image.fromarray(np.full(shape, 200, dtype=np.uint8)).save(plain)
    assert command_error([str(plain)]).startswith(f"error: {plain}: found no item")


def save_image(path: Path, image: np.ndarray) -> Path:
    Image.fromarray(image).save(path)
    return path


def test_an_item_on_a_two_tone_background_is_separated_by_grabcut():
    # Half the backdrop white, half dark grey: no colour of the photo's edge is the background's.
    image = np.full((120, 90), 240, dtype=np.uint8)
    image[:, 45:] = 60
    image[30:90, 30:60] = 150
    with pytest.raises(photo.NoPlainBackgroundError, match="100% of the photo's edge differs from its median colour"):
        photo.prepare_on_plain_background(image)
    steps = photo.prepare_steps(image)
    assert steps.method == "GrabCut" and (steps.rows, steps.columns) == (slice(30, 90), slice(30, 60))
    assert steps.item.sum() == 60 * 30 and steps.image.max() == 255


def test_an_item_too_close_to_its_background_is_separated_by_grabcut():
    # White on a lighter grey, 15 levels apart: too faint to take as whatever differs from the background.
    image = rectangle_photo(background=225, item=240, rows=slice(20, 100), columns=slice(20, 70))
    with pytest.raises(photo.NoPlainBackgroundError, match="it differs from it by at most 15 levels of 255"):
        photo.prepare_on_plain_background(image)
    steps = photo.prepare_steps(image)
    assert steps.method == "GrabCut" and (steps.rows, steps.columns) == (slice(20, 100), slice(20, 70))


def test_an_item_lost_in_the_noise_of_its_background_is_refused(tmp_path: Path):
    # 40 levels above a background whose noise alone strays by 20: neither way tells the item from it.
    image = rectangle_photo(background=180, item=220, rows=slice(20, 100), columns=slice(20, 70)).astype(np.float64)
    image += np.random.default_rng(SEED).normal(0, 20, image.shape)
    noisy = save_image(tmp_path / "noisy.png", np.clip(np.round(image), 0, 255).astype(np.uint8))
    assert command_error([str(noisy)]) == (
        f"error: {noisy}: cannot tell the item from the background: no region inside the box stands out from what "
        "lies outside it (the largest covers 0.0% of the box, expected 2% or more); expected one item, most of it "
        "inside the box"
    )


# Real phone photos from data/photos (CC0, see its README): clothes on a bed or a floor, shoes as a pair.
PHOTOS = REPOSITORY / "data" / "photos"


def test_a_phone_photo_of_a_garment_on_a_bed_becomes_a_garment_on_black():
    # Jeans laid on a creased red bedspread, which is no plain background.
    image = photo.load_photo(PHOTOS / "pants" / "511cbfa4-cc0c-416f-9e8b-c4e3fb16b9df.jpg")
    with pytest.raises(photo.NoPlainBackgroundError):
        photo.prepare_on_plain_background(image)
    steps = photo.prepare_steps(image)
    assert steps.method == "GrabCut"
    # The item is a good part of the photo, not a patch of the bedspread, and taller than wide, as jeans are.
    assert (
        0.2 < steps.item.mean() < 0.8 and steps.rows.stop - steps.rows.start > steps.columns.stop - steps.columns.start
    )
    # Light on black, brightest 255, and no wider than WIDEST_GARMENT of its 28 rows.
    lit_columns = np.flatnonzero(steps.image.max(axis=0) > 0)
    assert steps.image.max() == 255 and steps.image[:, 0].max() == 0
    assert lit_columns.size <= round(28 * photo.WIDEST_GARMENT)
    # GrabCut's random start is seeded: the same photo gives the same bytes.
    np.testing.assert_array_equal(photo.prepare_steps(image).image, steps.image)


def test_a_pair_of_shoes_gets_guidance_rather_than_an_answer(tmp_path: Path):
    pair = PHOTOS / "shoes" / "5e577f40-dd22-4b40-9827-ce6cae5ac3fd.jpg"
    message = command_error([str(pair)])
    assert message.startswith(f"error: {pair}: found two items of about the same size (")
    assert "one shoe from the side, as Fashion-MNIST shows them" in message


def test_a_box_drawn_around_one_of_two_items_picks_that_one():
    image = np.full((120, 90), 230, dtype=np.uint8)
    image[30:90, 10:40] = image[30:90, 50:80] = 20
    # Without a box the plain background's item is both rectangles; a box around the right one keeps it alone.
    assert photo.prepare_steps(image).columns == slice(10, 80)
    steps = photo.prepare_steps(image, box=(45, 20, 42, 80))
    assert steps.method == "GrabCut" and (steps.rows, steps.columns) == (slice(30, 90), slice(50, 80))


@pytest.mark.parametrize("box", [(10, 10, 3, 50), (200, 10, 40, 40)])
def test_a_box_that_leaves_too_little_of_the_photo_is_refused(box):
    image = rectangle_photo(background=230, item=20, rows=slice(30, 90), columns=slice(20, 60))
    with pytest.raises(photo.PhotoError, match=r"leaves less than 4x4 pixels of the 90x120 photo; expected a box"):
        photo.prepare_steps(image, box=box)


def test_specks_far_apart_are_refused_as_a_nearly_blank_input(tmp_path: Path):
    # Two specks of dust in opposite corners: their box is the whole photo, in which they shrink to dots.
    image = np.full((400, 300), 230, dtype=np.uint8)
    image[10:14, 10:14] = image[386:390, 286:290] = 30
    specks = save_image(tmp_path / "specks.png", image)
    message = command_error([str(specks)])
    assert message.startswith(f"error: {specks}: the prepared image is nearly blank: "), message
    assert message.endswith(
        "of its 28x28 pixels are lit, expected at least 19; photograph one item filling much "
        "of the photo, with no specks or marks far from it"
    )


def test_a_huge_png_is_refused_before_it_is_decoded(tmp_path: Path):
    # 120 megapixels, between Pillow's limit (89) and twice it (179), where Pillow only warns and decodes it all.
    huge = tmp_path / "huge.png"
    Image.new("L", (12000, 10000), 230).save(huge)
    assert huge.stat().st_size < 1_000_000
    assert command_error([str(huge)]) == (
        f"error: {huge}: too large to open safely: 12000x10000 pixels (120 megapixels) is more than the 89 "
        "megapixels Pillow decodes safely, and a PNG image is decoded whole; expected a smaller photo: scale it "
        "down, or save it as a JPEG, which is reduced while it is read"
    )


def test_a_huge_jpeg_is_reduced_while_it_is_read_in_bounded_memory(tmp_path: Path):
    huge = tmp_path / "huge.jpg"
    image = Image.new("RGB", (12000, 10000), (230, 230, 230))
    image.paste((40, 40, 40), (3000, 2000, 9000, 8000))
    image.save(huge, quality=90)
    del image
    assert huge.stat().st_size < 10_000_000
    # The child's own peak: VmHWM starts afresh at exec, where getrusage's maximum keeps this process's.
    script = (
        "import sys; from pathlib import Path; from fashion_mnist.photo import prepare_photo; "
        "image = prepare_photo(sys.argv[1]); "
        "status = dict(line.split(':', 1) for line in Path('/proc/self/status').read_text().splitlines()); "
        "print(*image.shape, image.max(), int(status['VmHWM'].split()[0]) // 1024)"
    )
    result = run([sys.executable, "-c", script, str(huge)], REPOSITORY)
    height, width, brightest, peak_mb = result.stdout.split()
    assert (height, width, brightest) == ("28", "28", "255")
    # Decoded whole, the photo alone would take 360 MB, and its float arrays several GB.
    assert int(peak_mb) < 200, result.stdout
    assert "DecompressionBombWarning" not in result.stderr


def test_a_bad_photo_among_good_ones_is_named(tmp_path: Path, good_photo: Path):
    missing = tmp_path / "second.jpg"
    assert command_error([str(good_photo), str(missing)]) == f"error: {missing}: image file not found"


def test_a_missing_model_is_named(tmp_path: Path, good_photo: Path):
    model = tmp_path / "final.keras"
    assert command_error([str(good_photo), "--model", str(model)]) == f"error: {model}: model file not found"


def test_an_unreadable_model_is_named(tmp_path: Path, good_photo: Path):
    model = write_bytes(tmp_path / "final.keras", b"not a zip archive")
    assert command_error([str(good_photo), "--model", str(model)]).startswith(
        f"error: {model}: not a readable Keras model"
    )


def test_a_model_for_other_inputs_is_named(tmp_path: Path, good_photo: Path):
    model = tmp_path / "other.keras"
    save_model(keras.Sequential([keras.Input(shape=(10,)), keras.layers.Dense(10)]), model)
    assert command_error([str(good_photo), "--model", str(model)]).startswith(
        f"error: {model}: the model takes inputs of shape (10,); expected a Fashion-MNIST classifier"
    )


def test_an_unknown_model_format_is_named(tmp_path: Path, good_photo: Path):
    model = write_bytes(tmp_path / "final.h5", b"")
    assert command_error([str(good_photo), "--model", str(model)]) == (
        f"error: {model}: unknown model format .h5; expected a .keras or .tflite file"
    )


# The first photo of each garment class in data/photos, a hash of its prepared input each.
PREPARED_HASHES = """
import csv, hashlib, sys
from pathlib import Path
import cv2
from fashion_mnist.photo import load_photo, prepare_steps
print(cv2.getCPUFeaturesLine())
seen = set()
for row in csv.DictReader(open("data/photos/labels.csv", newline="")):
    if row["kind"] in ("flat", "hanging") and row["label"] not in seen:
        seen.add(row["label"])
        image = prepare_steps(load_photo(Path("data/photos") / row["file"])).image
        print(row["file"], hashlib.sha256(image.tobytes()).hexdigest())
"""


def test_grabcut_gives_the_same_inputs_whichever_vector_instructions_opencv_picks():
    # OpenCV picks its SSE4, AVX2 or AVX-512 code as the CPU allows. Kept to SSE4, the inputs are the same
    # bytes: the score-photos stage's outputs do not depend on the CPU's vector width.
    def hashes(environment: dict[str, str]) -> list[str]:
        command = [sys.executable, "-c", PREPARED_HASHES]
        result = subprocess.run(command, cwd=REPOSITORY, env=environment, capture_output=True, text=True, check=True)
        return result.stdout.splitlines()

    widest = hashes(dict(os.environ))
    capped = hashes({**os.environ, "OPENCV_CPU_DISABLE": "AVX,FP16,AVX2,AVX_VNNI,AVX512-SKX,AVX512-CLX"})
    # OpenCV marks a feature it was told not to use with "?": the cap took effect.
    assert "*AVX2?" in capped[0].split() and "*AVX2?" not in widest[0].split(), (widest[0], capped[0])
    assert len(widest) == 7 and widest[1:] == capped[1:]
