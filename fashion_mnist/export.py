"""A smaller model for devices: full-integer int8 LiteRT conversion, its predictions and its speed."""

import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from fashion_mnist.errors import DataError
from fashion_mnist.model import architecture_of, build_model

# Images per call of the int8 model: a bound on its memory, which grows with the batch.
BATCH_SIZE = 1000


def calibration_images(images: np.ndarray, count: int, seed: int) -> np.ndarray:
    """A seeded sample of `count` training images (all of them if there are fewer) to calibrate the int8 ranges."""
    chosen = np.random.default_rng(seed).choice(len(images), size=min(count, len(images)), replace=False)
    return images[np.sort(chosen)]


def float32_copy(model: keras.Model) -> keras.Model:
    """The same architecture and weights as `model`, computing in float32.

    A model trained under mixed_bfloat16 converts to bfloat16 TensorFlow ops that LiteRT's int8 kernels
    do not cover; its variables are float32 all along, so a float32 rebuild holds exactly its weights.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = build_model(**architecture_of(model))
    finally:
        keras.mixed_precision.set_global_policy(previous)
    copy.set_weights(model.get_weights())
    return copy


def int8_model(model: keras.Model, calibration: np.ndarray) -> bytes:
    """Convert `model` to a LiteRT flatbuffer with int8 weights, activations, input and output.

    The ranges of the activations come from running `calibration` (uint8 images) through the model.
    """

    # TensorFlow's converter is needed only here: running a LiteRT model needs ai-edge-litert alone.
    import tensorflow as tf

    def representative_dataset() -> Iterator[list[np.ndarray]]:
        for image in calibration:
            yield [image[np.newaxis].astype(np.float32)]

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.tflite"
        float32_copy(model).export(
            str(path),
            format="litert",
            verbose=False,
            optimizations=[tf.lite.Optimize.DEFAULT],
            representative_dataset=representative_dataset,
            # Integer ops only, so that the model runs on integer-only accelerators, with no float fallback.
            target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
            inference_input_type=tf.int8,
            inference_output_type=tf.int8,
        )
        return path.read_bytes()


def _interpreter(model_path: Path) -> Interpreter:
    model_path = Path(model_path)
    if not model_path.is_file():
        raise DataError(f"{model_path}: model file not found")
    try:
        return Interpreter(model_path=str(model_path))
    except (ValueError, RuntimeError) as error:
        raise DataError(f"{model_path}: not a readable LiteRT model ({error})") from None


def _run(interpreter: Interpreter, images: np.ndarray) -> np.ndarray:
    # Quantize with the input tensor's own scale and zero point, dequantize with the output's.
    input_details, output_details = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    input_scale, input_zero_point = input_details["quantization"]
    quantized = np.round(images.astype(np.float32) / input_scale + input_zero_point)
    quantized = np.clip(quantized, -128, 127).astype(np.int8).reshape(len(images), 28, 28, 1)
    if tuple(input_details["shape"]) != quantized.shape:
        interpreter.resize_tensor_input(input_details["index"], quantized.shape)
        interpreter.allocate_tensors()
    interpreter.set_tensor(input_details["index"], quantized)
    interpreter.invoke()
    output_scale, output_zero_point = output_details["quantization"]
    output = interpreter.get_tensor(output_details["index"]).astype(np.float32)
    return (output - output_zero_point) * output_scale


def int8_probabilities(model_path: Path, images: np.ndarray) -> np.ndarray:
    """The class probabilities (N, 10) that the int8 LiteRT model at `model_path` gives uint8 images (N, 28, 28)."""
    if images.dtype != np.uint8 or images.shape[1:] not in ((28, 28), (28, 28, 1)):
        raise ValueError(f"expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}")
    interpreter = _interpreter(model_path)
    interpreter.allocate_tensors()
    batches = [_run(interpreter, images[start : start + BATCH_SIZE]) for start in range(0, len(images), BATCH_SIZE)]
    return np.concatenate(batches) if batches else np.empty((0, interpreter.get_output_details()[0]["shape"][-1]))


def comparison(labels: np.ndarray, float_probabilities: np.ndarray, int8_probabilities: np.ndarray) -> dict:
    """Both models' accuracy on `labels`, what the int8 model loses in points, and how often they agree."""
    float_predicted, int8_predicted = float_probabilities.argmax(axis=1), int8_probabilities.argmax(axis=1)
    float_accuracy, int8_accuracy = float(np.mean(float_predicted == labels)), float(np.mean(int8_predicted == labels))
    return {
        "float_test_accuracy": float_accuracy,
        "int8_test_accuracy": int8_accuracy,
        "accuracy_drop_points": round(100 * (float_accuracy - int8_accuracy), 2),
        "top1_agreement": float(np.mean(float_predicted == int8_predicted)),
    }


def _median_milliseconds(call, repeats: int) -> float:
    call()  # The first call builds and warms up what the rest reuse.
    latencies = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)
    return round(1000 * statistics.median(latencies), 3)


def float_speed(model: keras.Model, images: np.ndarray, repeats: int) -> dict:
    """The median latency of one image, in ms, and images per second in batches of BATCH_SIZE, for a Keras model."""
    single, batch = images[:1], images[:BATCH_SIZE]
    batch_ms = _median_milliseconds(
        lambda: model.predict(batch, batch_size=BATCH_SIZE, verbose=0), max(repeats // 10, 1)
    )
    return {
        "single_image_ms": _median_milliseconds(lambda: model(single, training=False), repeats),
        "images_per_second": round(1000 * len(batch) / batch_ms),
    }


def int8_speed(model_path: Path, images: np.ndarray, repeats: int) -> dict:
    """As `float_speed`, for the int8 LiteRT model: one interpreter for single images, one for batches."""
    single_interpreter, batch_interpreter = _interpreter(model_path), _interpreter(model_path)
    single_interpreter.allocate_tensors()
    batch_interpreter.allocate_tensors()
    single, batch = images[:1], images[:BATCH_SIZE]
    batch_ms = _median_milliseconds(lambda: _run(batch_interpreter, batch), max(repeats // 10, 1))
    return {
        "single_image_ms": _median_milliseconds(lambda: _run(single_interpreter, single), repeats),
        "images_per_second": round(1000 * len(batch) / batch_ms),
    }
