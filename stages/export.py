"""Stage export: convert the final model to a full-integer int8 LiteRT model, and measure what that costs.

It reads the test set after every decision has been made, and refuses to run inside a DVC experiment.
"""

import time

from fashion_mnist import paths
from fashion_mnist.backend import cap_instruction_set
from fashion_mnist.dataset import load_split
from fashion_mnist.export import (
    BATCH_SIZE,
    calibration_images,
    comparison,
    float_speed,
    int8_model,
    int8_probabilities,
    int8_speed,
)
from fashion_mnist.files import atomic_path, write_json
from fashion_mnist.loading import load_model
from fashion_mnist.params import load_params
from fashion_mnist.stage import peak_memory_mb, refuse_inside_experiment, run_stage

# Single-image calls timed per model; batch timings take a tenth as many.
TIMED_CALLS = 100


def main() -> None:
    """Quantize the final model, calibrated on training images, then compare both models on the test set."""
    refuse_inside_experiment("export")
    params = load_params(["base", "train", "export"])
    print(f"instruction set: {cap_instruction_set(params['train']['cpu_isa'])}")
    model = load_model(paths.FINAL_MODEL)
    x_train, _ = load_split(paths.TRAIN_DATA)
    calibration = calibration_images(x_train, count=params["export"]["calibration_images"], seed=params["base"]["seed"])
    print(f"converting {paths.FINAL_MODEL} to int8, calibrated on {len(calibration)} training images")

    started = time.perf_counter()
    converted = int8_model(model, calibration=calibration)
    seconds = time.perf_counter() - started
    with atomic_path(paths.INT8_MODEL) as temporary:
        temporary.write_bytes(converted)

    x_test, y_test = load_split(paths.TEST_DATA)
    float_bytes, int8_bytes = paths.FINAL_MODEL.stat().st_size, paths.INT8_MODEL.stat().st_size
    scores = comparison(
        y_test,
        float_probabilities=model.predict(x_test, batch_size=BATCH_SIZE, verbose=0),
        int8_probabilities=int8_probabilities(paths.INT8_MODEL, x_test),
    )
    write_json(
        paths.EXPORT_METRICS,
        {
            "float_bytes": float_bytes,
            "int8_bytes": int8_bytes,
            "size_ratio": round(float_bytes / int8_bytes, 2),
            **scores,
        },
    )
    float_timing = float_speed(model, images=x_test, repeats=TIMED_CALLS)
    int8_timing = int8_speed(paths.INT8_MODEL, images=x_test, repeats=TIMED_CALLS)
    write_json(
        paths.EXPORT_TIMING,
        {
            "export_seconds": round(seconds, 1),
            "float_single_image_ms": float_timing["single_image_ms"],
            "int8_single_image_ms": int8_timing["single_image_ms"],
            "float_images_per_second": float_timing["images_per_second"],
            "int8_images_per_second": int8_timing["images_per_second"],
            "peak_memory_mb": peak_memory_mb(),
        },
    )
    print(
        f"{int8_bytes:,} bytes against {float_bytes:,} ({float_bytes / int8_bytes:.1f}x smaller); test accuracy "
        f"{scores['int8_test_accuracy']:.4f} against {scores['float_test_accuracy']:.4f} "
        f"({scores['accuracy_drop_points']:+.2f} points lost), top-1 agreement {scores['top1_agreement']:.4f}"
    )


if __name__ == "__main__":
    run_stage(main)
