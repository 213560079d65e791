"""`fashion-mnist serve`: the page's API through Flask's test client, its errors, and the page in a real browser."""

import base64
import io
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import keras
import numpy as np
import pytest
from filelock import FileLock
from flask.testing import FlaskClient
from PIL import Image

from fashion_mnist.dataset import CLASS_NAMES
from fashion_mnist.errors import DataError
from fashion_mnist.photo import load_photo, prepare_steps
from fashion_mnist.predict import load_classifier
from fashion_mnist.serve import MAX_UPLOAD_BYTES, Classifier, create_app
from tests.conftest import REPOSITORY, environment
from tests.photographs import train_small_model

# Jeans laid on a red bed: a busy background, which GrabCut separates.
JEANS = REPOSITORY / "data/photos/pants/511cbfa4-cc0c-416f-9e8b-c4e3fb16b9df.jpg"
STEPS = ("item", "crop", "negated", "input")


@pytest.fixture(scope="session")
def model_path(real_data: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A blog_cnn trained for two short epochs on 2,000 real images: enough to call the jeans trousers."""
    if worker_id == "master":
        return train_small_model(tmp_path_factory.mktemp("model") / "model.keras", count=2000, epochs=2)
    # The xdist workers share one session folder: the first to get here trains the model, the others wait for it.
    folder = tmp_path_factory.getbasetemp().parent / "serve-model"
    with FileLock(f"{folder}.lock"):
        if not (folder / "model.keras").exists():
            train_small_model(folder / "model.keras", count=2000, epochs=2)
    return folder / "model.keras"


@pytest.fixture(scope="module")
def classify(model_path: Path) -> Classifier:
    """The small model, loaded once, as the server loads it."""
    return load_classifier(model_path)


@pytest.fixture(scope="module")
def client(classify: Classifier) -> FlaskClient:
    """Flask's test client of the page's application, with the small model."""
    return create_app(classify).test_client()


def post(client: FlaskClient, content: bytes, name: str = "jeans.jpg", box: str | None = None):
    """POST /predict as the page does: the photo as a file, and the box when one is drawn."""
    form = {"photo": (io.BytesIO(content), name)} | ({"box": box} if box is not None else {})
    return client.post("/predict", data=form, content_type="multipart/form-data")


def decoded(url: str) -> np.ndarray:
    """The image of a base64 data URL, as an array."""
    header, payload = url.split(",", 1)
    assert header in ("data:image/png;base64", "data:image/jpeg;base64")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))))


def expected_steps(box: tuple[int, int, int, int] | None = None):
    """The jeans prepared in this process, as the server should prepare them."""
    return prepare_steps(load_photo(JEANS), box)


def test_the_page_and_its_files_are_served_and_name_nothing_outside_the_server(client: FlaskClient):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("serve.js", "serve.css"):
        assert f'"/static/{name}"' in html
        static = client.get(f"/static/{name}")
        assert static.status_code == 200 and static.data
        assert b"http" not in static.data, f"{name} must work offline"
    # The only address in the page is the icon's empty data URL: no CDN, font or script from elsewhere.
    assert "http" not in html and "//" not in html


def test_a_photo_gets_ten_probabilities_each_step_and_the_box(client: FlaskClient, classify: Classifier):
    response = post(client, JEANS.read_bytes())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    steps = expected_steps()

    assert [entry["name"] for entry in body["classes"]] == list(CLASS_NAMES)
    probabilities = np.array([entry["probability"] for entry in body["classes"]])
    assert probabilities.sum() == pytest.approx(1, abs=1e-5)
    np.testing.assert_allclose(probabilities, classify(steps.image[np.newaxis])[0], rtol=1e-5)
    assert body["method"] == steps.method == "GrabCut"

    assert sorted(body["steps"]) == sorted(STEPS)
    photo = decoded(body["photo"])
    assert photo.shape == (body["height"], body["width"], 3) == load_photo(JEANS).shape
    assert decoded(body["steps"]["item"]).shape == photo.shape
    assert decoded(body["steps"]["crop"]).shape[:2] == steps.negated.shape == decoded(body["steps"]["negated"]).shape
    np.testing.assert_array_equal(decoded(body["steps"]["input"]), steps.image)

    left, top, width, height = body["box"]
    assert left >= 0 and top >= 0 and width >= 4 and height >= 4
    assert left + width <= body["width"] and top + height <= body["height"]


def test_a_box_in_the_request_is_the_box_used(client: FlaskClient, classify: Classifier):
    automatic = post(client, JEANS.read_bytes()).get_json()
    box = (40, 30, 150, 260)
    assert list(box) != automatic["box"]

    body = post(client, JEANS.read_bytes(), box=" 40, 30,150 ,260").get_json()
    assert body["box"] == list(box)
    steps = expected_steps(box)
    np.testing.assert_array_equal(decoded(body["steps"]["input"]), steps.image)
    assert not np.array_equal(decoded(body["steps"]["input"]), decoded(automatic["steps"]["input"]))
    probabilities = [entry["probability"] for entry in body["classes"]]
    np.testing.assert_allclose(probabilities, classify(steps.image[np.newaxis])[0], rtol=1e-5)


def assert_refused(client: FlaskClient, response, status: int, message: str) -> dict:
    """The response is the error `message` (its start) with `status`, and the server still classifies a photo."""
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"].startswith(message), body["error"]
    # The server's temporary file means nothing to the user.
    assert tempfile.gettempdir() not in body["error"]
    assert post(client, JEANS.read_bytes()).status_code == 200
    return body


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jpg", b"", "empty.jpg: the file is empty (0 bytes); expected an image"),
        ("notes.jpg", b"a shopping list, not a photo\n", "notes.jpg: not an image file Pillow can read"),
        ("cut.jpg", JEANS.read_bytes()[:400], "cut.jpg: cannot decode the image"),
    ],
)
def test_a_bad_file_gets_its_own_error(client: FlaskClient, name: str, content: bytes, message: str):
    assert_refused(client, post(client, content, name=name), 400, message)


def test_an_image_too_large_to_open_safely_is_refused(client: FlaskClient, monkeypatch):
    # Pillow refuses images of more than twice MAX_IMAGE_PIXELS; a small limit stands in for a huge photo.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    response = post(client, JEANS.read_bytes(), name="huge.jpg")
    monkeypatch.undo()
    assert_refused(client, response, 400, "huge.jpg: too large to open safely")


def test_an_upload_over_the_size_cap_is_refused(client: FlaskClient):
    response = post(client, b"\xff" * MAX_UPLOAD_BYTES, name="video.jpg")
    assert_refused(client, response, 413, "the upload is 20.0 MB, over the limit of 20 MB; expected a photo of 20 MB")


def test_a_request_without_a_photo_is_refused(client: FlaskClient):
    response = client.post("/predict", data={"box": "1,2,30,40"}, content_type="multipart/form-data")
    assert_refused(client, response, 400, "no photo in the request: expected an image file in the form field 'photo'")


@pytest.mark.parametrize("box", ["1,2,3", "1,2,three,4", "1.5,2,30,40"])
def test_a_malformed_box_is_refused(client: FlaskClient, box: str):
    response = post(client, JEANS.read_bytes(), box=box)
    assert_refused(
        client,
        response,
        400,
        f"box must be four whole numbers, left, top, width and height in pixels of the photo, got {box!r}",
    )


def test_a_box_too_small_is_refused_with_the_photo_to_draw_another(client: FlaskClient):
    body = assert_refused(
        client,
        post(client, JEANS.read_bytes(), box="1,2,3,3"),
        400,
        "jeans.jpg: the box around the item, 3x3 at (1, 2)",
    )
    assert body["box"] == [1, 2, 3, 3]
    assert decoded(body["photo"]).shape == (body["height"], body["width"], 3) == load_photo(JEANS).shape


def test_a_model_of_another_format_or_input_is_refused_at_startup(tmp_path: Path):
    with pytest.raises(DataError, match=r"model\.onnx: unknown model format \.onnx"):
        load_classifier(tmp_path / "model.onnx")
    wide = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    wide.save(tmp_path / "wide.keras")
    with pytest.raises(DataError, match=r"takes inputs of shape \(32, 32, 1\); expected a Fashion-MNIST classifier"):
        load_classifier(tmp_path / "wide.keras")


def wait_for_address(server: subprocess.Popen, log: Path, timeout: float = 90) -> str:
    """The address the server prints once it listens; an error with its output if it stops or is slow."""
    selector = selectors.DefaultSelector()
    selector.register(server.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=1):
            line = server.stdout.readline()
            if found := re.search(r"http://\S+", line):
                return found.group()
            if not line:
                break
    raise AssertionError(f"the server printed no address:\n{log.read_text()}")


@pytest.fixture(scope="module")
def address(model_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """The address of `fashion-mnist serve` on a free port with the small model, run as a user runs it."""
    command = shutil.which("fashion-mnist", path=str(Path(sys.executable).parent))
    assert command, "`make setup` installs the project, which provides the command"
    log = tmp_path_factory.mktemp("server") / "stderr.log"
    with log.open("w") as errors:
        server = subprocess.Popen(
            [command, "serve", "--port", "0", "--model", str(model_path)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=environment(),
        )
    try:
        yield wait_for_address(server, log)
    finally:
        server.terminate()
        server.wait(timeout=30)


def top_class(classify: Classifier, box: tuple[int, int, int, int] | None = None) -> str:
    """The class the model gives the jeans, prepared in this process."""
    return CLASS_NAMES[int(np.argmax(classify(expected_steps(box).image[np.newaxis])[0]))]


# Whether a step's picture is loaded and not of one colour: drawn onto a canvas and its pixels compared.
DRAWN = """image => {
    if (!image.complete || image.naturalWidth === 0) return false;
    const canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    return pixels.some(value => value !== pixels[0]);
}"""


def shown_box(page) -> list[int]:
    return [int(page.input_value(f"#box-{name}")) for name in ("left", "top", "width", "height")]


@pytest.mark.slow
def test_the_page_classifies_a_photo_in_a_real_browser_offline(address: str, classify: Classifier, tmp_path: Path):
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        outside, posted = [], []

        # Nothing leaves this machine: any request to another host is refused, and noted.
        def only_this_server(route) -> None:
            if urlparse(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_this_server)
        page.on("request", lambda request: posted.append(request) if request.url.endswith("/predict") else None)
        page.goto(address)

        page.set_input_files("#photo-input", JEANS)
        expect(page.locator("#steps")).to_be_visible(timeout=30_000)
        expect(page.locator("#top-class")).to_have_text(top_class(classify))
        for step in STEPS:
            assert page.eval_on_selector(f"#step-{step}", DRAWN), f"the {step} step is not drawn"
        assert page.evaluate("document.getElementById('step-input').naturalWidth") == 28
        automatic = shown_box(page)
        assert len(posted) == 1

        # A box typed in: a new request, and the prediction of that box.
        typed = [30, 20, 180, 280]
        for name, value in zip(("left", "top", "width", "height"), typed, strict=True):
            page.fill(f"#box-{name}", str(value))
        with page.expect_response("**/predict") as typed_response:
            page.click("#box-form button")
        assert typed_response.value.ok and len(posted) == 2
        assert typed_response.value.json()["box"] == typed
        expect(page.locator("#top-class")).to_have_text(top_class(classify, tuple(typed)))
        assert shown_box(page) == typed != automatic

        # A box dragged on the photo, from a fifth of the way in to nine tenths down.
        frame = page.locator("#photo-frame").bounding_box()
        with page.expect_response("**/predict") as dragged_response:
            page.mouse.move(frame["x"] + frame["width"] * 0.2, frame["y"] + frame["height"] * 0.2)
            page.mouse.down()
            page.mouse.move(frame["x"] + frame["width"] * 0.5, frame["y"] + frame["height"] * 0.5, steps=5)
            page.mouse.move(frame["x"] + frame["width"] * 0.8, frame["y"] + frame["height"] * 0.9, steps=5)
            page.mouse.up()
        dragged = dragged_response.value.json()["box"]
        width, height = dragged_response.value.json()["width"], dragged_response.value.json()["height"]
        assert len(posted) == 3
        np.testing.assert_allclose(dragged, [0.2 * width, 0.2 * height, 0.6 * width, 0.7 * height], atol=3)
        expect(page.locator("#box-left")).to_have_value(str(dragged[0]))
        assert shown_box(page) == dragged

        # A bad file: its error in the page, and the page still works after it.
        page.set_input_files(
            "#photo-input", {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"a shopping list, not a photo"}
        )
        expect(page.locator("#error")).to_have_text(
            "notes.jpg: not an image file Pillow can read; expected a JPEG, PNG or similar photo"
        )
        expect(page.locator("#steps")).to_be_hidden()
        page.set_input_files("#photo-input", JEANS)
        expect(page.locator("#steps")).to_be_visible(timeout=30_000)
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#top-class")).to_have_text(top_class(classify))
        assert shown_box(page) == automatic and len(posted) == 5

        assert outside == []
        # The page as the user sees it; docs/serve.png is this screenshot, copied by hand when the page changes.
        page.screenshot(path=tmp_path / "serve.png")
        assert (tmp_path / "serve.png").stat().st_size > 20_000
        browser.close()
