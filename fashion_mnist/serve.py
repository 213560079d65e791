"""A local page to try the model on your own photo: `fashion-mnist serve`, then open the address it prints.

The page shows each step from the photo to the model's 28x28 input (see fashion_mnist.photo) and the ten
class probabilities, and lets the user redraw the box around the item. The server keeps no state: the page
keeps the photo and posts it again with each new box.
"""

import argparse
import base64
import io
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from flask import Flask, jsonify, render_template, request
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import make_server

from fashion_mnist.dataset import CLASS_NAMES
from fashion_mnist.errors import DataError
from fashion_mnist.idx import IMAGE_SIZE
from fashion_mnist.photo import PhotoError, PreparedPhoto, check_box, default_box, load_photo, prepare_steps
from fashion_mnist.predict import add_model_argument, load_classifier, require_model, with_default_model
from fashion_mnist.stage import run_stage

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# A phone's photo is a few MB; the cap keeps a mistaken upload of a video or an archive from filling memory.
MAX_UPLOAD_MEGABYTES = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MEGABYTES * 1024 * 1024
# How much of its brightness the background keeps in the picture of the item found.
BACKGROUND_SHADE = 0.25

Classifier = Callable[[np.ndarray], np.ndarray]


def parse_arguments(
    arguments: list[str] | None = None, prog: str = "python -m fashion_mnist.serve"
) -> argparse.Namespace:
    """The command line: the address to listen on and the model to use."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a local page that classifies a photo of clothing and shows how it was prepared.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"the address to listen on (default: {DEFAULT_HOST}, this machine only)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"the port to listen on, 0 for any free one (default: {DEFAULT_PORT})",
    )
    add_model_argument(parser)
    return with_default_model(parser.parse_args(arguments))


def warmed_classifier(model_path: Path) -> Classifier:
    """The model's classifier, loaded once, after one prediction: that refuses a file of another format at
    startup, and builds Keras's predict function, which the first photo would otherwise wait for."""
    classify = load_classifier(model_path)
    classify(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8))
    return classify


def parse_box(text: str | None) -> tuple[int, int, int, int] | None:
    """The box posted with a photo, "left,top,width,height" in pixels of the photo as served; None when absent."""
    if text is None or not text.strip():
        return None
    values = re.split(r"[\s,]+", text.strip())
    if len(values) != 4 or not all(re.fullmatch(r"-?\d+", value) for value in values):
        raise DataError(
            f"box must be four whole numbers, left, top, width and height in pixels of the photo, got {text[:80]!r}"
        )
    left, top, width, height = (int(value) for value in values)
    return left, top, width, height


def read_upload(upload: FileStorage, name: str) -> np.ndarray:
    """The uploaded photo as load_photo reads it; its errors call the file `name`, as the user knows it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        upload.save(path)
        try:
            return load_photo(path)
        except DataError as error:
            # The server's temporary path means nothing to the user, and is none of their business.
            raise DataError(str(error).replace(str(path), name)) from None


def shown_box(image: np.ndarray, steps: PreparedPhoto, box: tuple[int, int, int, int] | None) -> list[int]:
    """The box around the item to draw on the photo, (left, top, width, height): the one GrabCut started from,
    or the item's own bounds on a plain background."""
    if box is not None:
        return list(check_box(box, image.shape))
    if steps.method == "GrabCut":
        return list(default_box(image.shape))
    rows, columns = steps.rows, steps.columns
    return [columns.start, rows.start, columns.stop - columns.start, rows.stop - rows.start]


def data_url(image: np.ndarray, image_format: str = "PNG") -> str:
    """An image array as a base64 data URL the page can show: PNG, lossless, or JPEG, small, for photos."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format, quality=90)  # PNG ignores the quality.
    return f"data:image/{image_format.lower()};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def item_picture(image: np.ndarray, item: np.ndarray) -> np.ndarray:
    """The photo with everything but the item darkened: what was found."""
    darkened = np.round(image * BACKGROUND_SHADE).astype(np.uint8)
    return np.where(item[..., np.newaxis], image, darkened)


def step_pictures(image: np.ndarray, steps: PreparedPhoto) -> dict[str, str]:
    """Each step from the photo to the model's input, as data URLs: item found, crop, grey and negated, resized."""
    negated = np.clip(np.round(steps.negated), 0, 255).astype(np.uint8)
    return {
        "item": data_url(item_picture(image, steps.item), "JPEG"),
        "crop": data_url(np.ascontiguousarray(image[steps.rows, steps.columns]), "JPEG"),
        "negated": data_url(negated),
        "input": data_url(steps.image),
    }


def photo_fields(image: np.ndarray) -> dict:
    """The photo as the server sees it, upright and reduced, so that the page draws boxes in its pixels."""
    height, width = image.shape[:2]
    return {"photo": data_url(image, "JPEG"), "width": width, "height": height}


def classify_photo(image: np.ndarray, box: tuple[int, int, int, int] | None, classify: Classifier) -> dict:
    """Everything the page shows of one photo: the photo, each step, the box, the method and the probabilities."""
    steps = prepare_steps(image, box)
    probabilities = classify(steps.image[np.newaxis])[0]
    return {
        **photo_fields(image),
        "box": shown_box(image, steps, box),
        "method": steps.method,
        "steps": step_pictures(image, steps),
        "classes": [
            {"name": name, "probability": float(probability)}
            for name, probability in zip(CLASS_NAMES, probabilities, strict=True)
        ],
    }


def create_app(classify: Classifier) -> Flask:
    """The Flask application: the page at `/`, and `POST /predict` with a `photo` file and an optional `box`."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    # One photo at a time: GrabCut and the model take the CPU's cores anyway, and a Keras model is not
    # meant to predict from several threads at once.
    busy = threading.Lock()

    @app.get("/")
    def page() -> str:
        return render_template("serve.html", max_upload_bytes=MAX_UPLOAD_BYTES)

    @app.post("/predict")
    def predict() -> tuple:
        upload = request.files.get("photo")
        if upload is None or not upload.filename:
            raise DataError("no photo in the request: expected an image file in the form field 'photo'")
        name = Path(upload.filename).name
        box = parse_box(request.form.get("box"))
        image = read_upload(upload, name)
        try:
            with busy:
                return jsonify(classify_photo(image, box, classify)), 200
        except PhotoError as error:
            # The photo was read but no item found in it: the page shows the photo, to draw a box on.
            tried = list(box or default_box(image.shape))
            return jsonify(error=f"{name}: {error}", box=tried, **photo_fields(image)), 400

    @app.errorhandler(DataError)
    def bad_upload(error: DataError) -> tuple:
        return jsonify(error=str(error)), 400

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> tuple:
        size = f" {request.content_length / 1024 / 1024:.1f} MB," if request.content_length else ""
        return jsonify(
            error=f"the upload is{size} over the limit of {MAX_UPLOAD_MEGABYTES} MB; expected a photo of "
            f"{MAX_UPLOAD_MEGABYTES} MB or less: scale it down, or save it as a JPEG"
        ), 413

    return app


def main(arguments: list[str] | None = None, prog: str = "python -m fashion_mnist.serve") -> None:
    """Load the model, then serve the page until interrupted."""
    arguments = parse_arguments(arguments, prog=prog)
    require_model(arguments.model, given=arguments.model_given)
    print(f"Loading {arguments.model} ...", flush=True)
    # Port 0 lets the system pick a free one; werkzeug says why, and exits, when the address cannot be had.
    server = make_server(arguments.host, arguments.port, create_app(warmed_classifier(arguments.model)), threaded=True)
    host = f"[{arguments.host}]" if ":" in arguments.host else arguments.host
    print(f"Serving the page at http://{host}:{server.server_port}/  (Ctrl+C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.")
    finally:
        server.server_close()


if __name__ == "__main__":
    run_stage(main)
