"""The int8 LiteRT export: integer tensors, predictions that follow the float model's, and the stage's reports."""

import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from fashion_mnist.backend import make_deterministic
from fashion_mnist.errors import DataError
from fashion_mnist.export import (
    calibration_images,
    comparison,
    float32_copy,
    float_speed,
    int8_model,
    int8_probabilities,
    int8_speed,
)
from fashion_mnist.model import FlipAveraged, build_model, classifier_of
from fashion_mnist.params import MODEL_NAMES
from tests.conftest import EXPORT, FINAL_EVALUATE, copy_project, run, set_params
from tests.synthetic import balanced_labels, make_images


@pytest.fixture(scope="module")
def data():
    labels = balanced_labels(30, seed=0)
    images = make_images(labels, seed=1)
    return (images[:200], labels[:200]), (images[200:], labels[200:])


@pytest.fixture(scope="module", params=[*((name, "none") for name in MODEL_NAMES), ("blog_cnn", "flip")], ids=str)
def trained(request, data, tmp_path_factory) -> tuple[keras.Model, Path]:
    """Each architecture briefly trained, then held in mixed_bfloat16, as the pipeline trains where bfloat16 is
    native, and its int8 export; the blog's also with flip test-time augmentation, which the int8 model keeps.

    The training runs in float32 and the weights move into a mixed_bfloat16 copy: the export sees the same kind of
    model, and a CPU without native bfloat16 (AVX2 only) trains resnet9 in seconds rather than a quarter of an hour.
    """
    (images, labels), _ = data
    name, test_time_augmentation = request.param
    make_deterministic(3)
    trained_model = build_model(name, test_time_augmentation=test_time_augmentation)
    # Batch normalization's moving averages, which inference uses, settle within these few steps only at a
    # lower momentum than the default 0.99; the momentum is no weight, so the export is unchanged by it.
    for layer in classifier_of(trained_model).layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    trained_model.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy")
    trained_model.fit(images, labels, batch_size=20, epochs=8, verbose=0)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_model(name, test_time_augmentation=test_time_augmentation)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.set_weights(trained_model.get_weights())
    path = tmp_path_factory.mktemp("export") / "model_int8.tflite"
    path.write_bytes(int8_model(model, calibration=calibration_images(images, count=100, seed=0)))
    return model, path


def test_the_int8_model_takes_and_gives_int8_and_computes_in_integers(trained):
    _, path = trained
    interpreter = Interpreter(model_path=str(path))
    (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert inputs["dtype"] == np.int8 and outputs["dtype"] == np.int8
    assert list(inputs["shape_signature"]) == [-1, 28, 28, 1] and outputs["shape"][-1] == 10
    # Full-integer: no float tensor anywhere (int32 holds the biases).
    assert {detail["dtype"] for detail in interpreter.get_tensor_details()} <= {np.int8, np.int32}


def test_int8_probabilities_follow_the_float_model(trained, data):
    model, path = trained
    _, (images, labels) = data
    float_probabilities = model.predict(images, verbose=0)
    probabilities = int8_probabilities(path, images[..., 0])
    assert probabilities.shape == (len(labels), 10) and probabilities.dtype == np.float32
    # The output is quantized to steps of 1/256, so a row sums to 1 within ten half-steps.
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=10 / 512)
    assert np.mean(probabilities.argmax(axis=1) == float_probabilities.argmax(axis=1)) >= 0.9
    assert np.mean(float_probabilities.argmax(axis=1) == labels) >= 0.9, "the float model learnt the bands"
    # Images with or without the channel axis are the same images.
    np.testing.assert_array_equal(int8_probabilities(path, images), probabilities)


def test_the_int8_model_keeps_the_flip_averaging(trained, data):
    model, path = trained
    if not isinstance(model, FlipAveraged):
        pytest.skip("a model without test-time augmentation")
    _, (images, _) = data
    probabilities = int8_probabilities(path, images)
    # The mirror image gets the same answer, within the output's quantization steps of 1/256.
    np.testing.assert_allclose(int8_probabilities(path, images[:, :, ::-1]), probabilities, atol=2 / 256)
    plain = int8_model(model.classifier, calibration=calibration_images(data[0][0], count=100, seed=0))
    assert plain != path.read_bytes(), "the wrapper is in the int8 model, not just its classifier"


def test_the_float32_copy_holds_the_same_weights_in_float32(trained, data):
    model, _ = trained
    _, (images, _) = data
    copy = float32_copy(model)
    assert model.dtype_policy.name == "mixed_bfloat16" and copy.dtype_policy.name == "float32"
    for original, copied in zip(model.get_weights(), copy.get_weights(), strict=True):
        np.testing.assert_array_equal(original, copied)
    # bfloat16 keeps 8 bits of mantissa: the two agree to about 1%.
    np.testing.assert_allclose(copy.predict(images, verbose=0), model.predict(images, verbose=0), atol=0.05)


def test_the_calibration_sample_is_seeded_and_never_more_than_the_images(data):
    (images, _), _ = data
    first = calibration_images(images, count=50, seed=1)
    assert len(first) == 50 and first.dtype == np.uint8
    np.testing.assert_array_equal(first, calibration_images(images, count=50, seed=1))
    assert not np.array_equal(first, calibration_images(images, count=50, seed=2))
    assert len(calibration_images(images, count=10 * len(images), seed=1)) == len(images)


def test_the_comparison_counts_what_each_model_gets_right():
    labels = np.array([0, 1, 2, 3])
    float_probabilities = np.eye(4)[[0, 1, 2, 0]]  # three right
    int8_probabilities_ = np.eye(4)[[0, 1, 3, 1]]  # two right; agrees with the float model on two images
    scores = comparison(labels, float_probabilities=float_probabilities, int8_probabilities=int8_probabilities_)
    assert scores == {
        "float_test_accuracy": 0.75,
        "int8_test_accuracy": 0.5,
        "accuracy_drop_points": 25.0,
        "top1_agreement": 0.5,
    }


def test_both_speeds_are_measured(trained, data):
    model, path = trained
    _, (images, _) = data
    for speed in (float_speed(model, images=images, repeats=5), int8_speed(path, images=images, repeats=5)):
        assert set(speed) == {"single_image_ms", "images_per_second"}
        assert speed["single_image_ms"] > 0 and speed["images_per_second"] > 0


def test_images_that_are_not_uint8_28_by_28_are_refused(trained):
    _, path = trained
    with pytest.raises(ValueError, match=r"expected uint8 images of shape \(N, 28, 28\), got float32 \(2, 28, 28\)"):
        int8_probabilities(path, np.zeros((2, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match=r"got uint8 \(2, 32, 32\)"):
        int8_probabilities(path, np.zeros((2, 32, 32), dtype=np.uint8))


def test_a_missing_or_unreadable_model_file_is_named(tmp_path: Path):
    images = np.zeros((1, 28, 28), dtype=np.uint8)
    with pytest.raises(DataError, match=rf"{tmp_path / 'absent.tflite'}: model file not found"):
        int8_probabilities(tmp_path / "absent.tflite", images)
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"not a flatbuffer")
    with pytest.raises(DataError, match=rf"{garbage}: not a readable LiteRT model"):
        int8_probabilities(garbage, images)


def test_the_stage_refuses_to_run_inside_an_experiment_before_reading_anything(tmp_path: Path, monkeypatch):
    # A project without data or models: had the stage read any of them first, its error would name that file.
    project = copy_project(tmp_path / "project")
    monkeypatch.setenv("DVC_EXP_NAME", "curious-idea")
    result = run([sys.executable, "-m", "stages.export"], project, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "error: export comes after every decision, so it does not run in experiments" in result.stderr


@pytest.mark.slow
def test_dvc_repro_export_writes_the_int8_model_and_both_reports(project: Path):
    set_params(project, {"export": {"calibration_images": 50}})
    # final-evaluate too, whose test accuracy the export's float model must repeat.
    run(["dvc", "repro", EXPORT, FINAL_EVALUATE], project)
    interpreter = Interpreter(model_path=str(project / "models/final_int8.tflite"))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8

    metrics = json.loads((project / "reports/export/metrics.json").read_text())
    final = json.loads((project / "reports/final/metrics.json").read_text())
    assert set(metrics) == {
        "float_bytes",
        "int8_bytes",
        "size_ratio",
        "float_test_accuracy",
        "int8_test_accuracy",
        "accuracy_drop_points",
        "top1_agreement",
    }
    assert metrics["float_bytes"] == (project / "models/final.keras").stat().st_size
    assert metrics["int8_bytes"] == (project / "models/final_int8.tflite").stat().st_size
    assert metrics["size_ratio"] == pytest.approx(metrics["float_bytes"] / metrics["int8_bytes"], abs=0.01)
    assert metrics["size_ratio"] > 1
    # The same model on the same test set as final-evaluate, measured again here.
    assert metrics["float_test_accuracy"] == pytest.approx(final["test_accuracy"])
    assert 0 <= metrics["int8_test_accuracy"] <= 1 and 0 <= metrics["top1_agreement"] <= 1
    assert metrics["accuracy_drop_points"] == pytest.approx(
        100 * (metrics["float_test_accuracy"] - metrics["int8_test_accuracy"]), abs=0.01
    )

    timing = json.loads((project / "reports/export/timing.json").read_text())
    assert set(timing) == {
        "export_seconds",
        "float_single_image_ms",
        "int8_single_image_ms",
        "float_images_per_second",
        "int8_images_per_second",
        "peak_memory_mb",
    }
    assert timing["export_seconds"] >= 0  # rounded to tenths: a tiny model may convert in less than 0.05 s
    assert all(value > 0 for key, value in timing.items() if key != "export_seconds")
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)[""]["data"]
    assert shown["reports/export/metrics.json"]["data"] == metrics
    assert "Running stage" not in run(["dvc", "repro", EXPORT], project).stdout

    # A rerun converts to the same bytes (in one process the layers' generated names would differ).
    exported = (project / "models/final_int8.tflite").read_bytes()
    run([sys.executable, "-m", "stages.export"], project)
    assert (project / "models/final_int8.tflite").read_bytes() == exported
    assert json.loads((project / "reports/export/metrics.json").read_text()) == metrics
