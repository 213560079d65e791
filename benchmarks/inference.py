"""Inference speed of the trained models, measured as the export stage measures it."""

from pathlib import Path

import numpy as np

from fashion_mnist.export import float_speed, int8_speed
from fashion_mnist.loading import load_model


def inference(model_path: Path, images: np.ndarray, repeats: int) -> dict:
    """Images per second in batches of 1,000 (median of `repeats` batches) and the median latency of one
    image (of ten times as many calls), for a `.keras` model or the int8 LiteRT model."""
    if model_path.suffix == ".tflite":
        speed = int8_speed(model_path, images=images, repeats=repeats * 10)
    else:
        speed = float_speed(load_model(model_path), images=images, repeats=repeats * 10)
    return {
        "images_per_second": speed["images_per_second"],
        "single_image_milliseconds": round(speed["single_image_ms"], 2),
    }
