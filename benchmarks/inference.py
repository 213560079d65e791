"""Inference speed of the trained models: images per second in batches, and one image's latency."""

import statistics
import time
from pathlib import Path

import numpy as np

from fashion_mnist.export import int8_speed
from fashion_mnist.loading import load_model


def inference(model_path: Path, images: np.ndarray, repeats: int) -> dict:
    """Images per second in batches of 1,000, and the median latency of one image, for a `.keras` model."""
    model = load_model(model_path)
    batch = images[:1000]
    model.predict(batch, batch_size=1000, verbose=0)
    started = time.perf_counter()
    for _ in range(repeats):
        model.predict(batch, batch_size=1000, verbose=0)
    throughput = repeats * len(batch) / (time.perf_counter() - started)
    single = images[:1]
    model(single, training=False)
    latencies = []
    for index in range(repeats * 10):
        started = time.perf_counter()
        model(images[index : index + 1], training=False)
        latencies.append(time.perf_counter() - started)
    return {
        "model": str(model_path),
        "images_per_second": round(throughput),
        "single_image_milliseconds": round(1000 * statistics.median(latencies), 2),
    }


def int8_inference(model_path: Path, images: np.ndarray, repeats: int) -> dict:
    """The same figures as `inference` for the int8 LiteRT model, run by the LiteRT interpreter."""
    speed = int8_speed(model_path, images=images, repeats=repeats * 10)
    return {
        "model": str(model_path),
        "images_per_second": speed["images_per_second"],
        "single_image_milliseconds": round(speed["single_image_ms"], 2),
    }
