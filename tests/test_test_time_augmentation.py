"""Flip test-time augmentation: the model averages each image's probabilities with its mirror image's, the same
function in validation, on the test set, in the int8 export and in `predict`; training sees the images as they come."""

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from benchmarks.flip_check import flip_check
from fashion_mnist.backend import make_deterministic
from fashion_mnist.convolution import convolution_outputs
from fashion_mnist.errors import DataError
from fashion_mnist.evaluation import evaluate_model
from fashion_mnist.identity import architecture
from fashion_mnist.loading import load_model
from fashion_mnist.model import FlipAveraged, architecture_of, build_model, classifier_of, model_summary
from fashion_mnist.params import TEST_TIME_AUGMENTATIONS
from fashion_mnist.saving import save_model
from fashion_mnist.training import train_model
from tests.conftest import REPOSITORY, environment
from tests.synthetic import balanced_labels, make_images


@pytest.fixture(scope="module")
def data():
    labels = balanced_labels(10, seed=0)
    images = make_images(labels, seed=1)
    return (images[:80], labels[:80]), (images[80:], labels[80:])


def flipped(images: np.ndarray) -> np.ndarray:
    return images[:, :, ::-1]


def test_the_package_knows_every_choice_of_params():
    for choice in TEST_TIME_AUGMENTATIONS:
        build_model("blog_cnn", test_time_augmentation=choice)
    with pytest.raises(ValueError, match="unknown test-time augmentation 'rotate'; expected one of none, flip"):
        build_model("blog_cnn", test_time_augmentation="rotate")


@pytest.mark.parametrize("name", ["blog_cnn", "vgg_bn", "vgg_fast"])
def test_a_prediction_is_the_mean_of_the_image_and_its_mirror(name: str, data):
    _, (images, _) = data
    make_deterministic(0)
    model = build_model(name, test_time_augmentation="flip")
    classifier = classifier_of(model)
    averaged = model.predict(images, verbose=0)
    expected = (classifier.predict(images, verbose=0) + classifier.predict(flipped(images), verbose=0)) / 2
    np.testing.assert_allclose(averaged, expected, rtol=1e-6, atol=1e-7)
    # The mean of the two is the same whichever of them comes in: a mirror image gets the same answer (to
    # rounding: the two passes may be computed in another order).
    np.testing.assert_allclose(model.predict(flipped(images), verbose=0), averaged, rtol=0, atol=1e-6)
    assert not np.allclose(averaged, classifier.predict(images, verbose=0)), "the mirror image changes the answer"
    assert model.count_params() == classifier.count_params(), "the wrapper adds no weights"


def test_training_sees_each_image_once_as_it_comes():
    make_deterministic(0)
    model = build_model("blog_cnn", test_time_augmentation="flip")
    images = make_images(balanced_labels(2, seed=0), seed=1)
    trained = keras.ops.convert_to_numpy(model(images, training=True))
    alone = keras.ops.convert_to_numpy(classifier_of(model)(images, training=True))
    np.testing.assert_array_equal(trained, alone)


def test_validation_and_the_test_score_are_the_same_function(data):
    """The kept epoch's val_accuracy, as Keras's fit scored it, equals the test-set scoring of the saved model on
    the same images, and both are the accuracy of the averaged probabilities."""
    (images, labels), (validation_images, validation_labels) = data
    make_deterministic(4)
    model = build_model("blog_cnn", test_time_augmentation="flip")
    history = train_model(
        model,
        images=images,
        labels=labels,
        validation_data=(validation_images, validation_labels),
        epochs=3,
        batch_size=16,
        learning_rate=0.001,
        seed=4,
        monitor="val_accuracy",
        checkpoint_dir=None,
    )
    best = history.loc[history["val_accuracy"].idxmax()]
    scores, probabilities = evaluate_model(model, images=validation_images, labels=validation_labels)
    assert scores["test_accuracy"] == pytest.approx(best["val_accuracy"], abs=1e-6)
    classifier = classifier_of(model)
    mirrored = classifier.predict(flipped(validation_images), verbose=0)
    by_hand = (classifier.predict(validation_images, verbose=0) + mirrored) / 2
    np.testing.assert_allclose(probabilities, by_hand, rtol=1e-5, atol=1e-6)
    assert np.mean(by_hand.argmax(axis=1) == validation_labels) == pytest.approx(best["val_accuracy"], abs=1e-6)


def test_a_saved_flip_averaged_model_loads_as_one_and_predicts_the_same(data, tmp_path: Path):
    _, (images, _) = data
    make_deterministic(0)
    model = build_model("vgg_bn", test_time_augmentation="flip")
    save_model(model, tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    assert isinstance(loaded, FlipAveraged) and architecture_of(loaded) == architecture_of(model)
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), model.predict(images, verbose=0))
    save_model(loaded, tmp_path / "again.keras")
    assert (tmp_path / "again.keras").read_bytes() == (tmp_path / "model.keras").read_bytes()


def test_the_summary_and_the_convolution_figure_look_inside(data):
    _, (images, _) = data
    make_deterministic(0)
    model = build_model("blog_cnn", test_time_augmentation="flip")
    summary = model_summary(model)
    assert "507,530" in summary and "conv2d" in summary.lower()
    assert "mirror image (model.test_time_augmentation: flip)" in summary
    filters, maps = convolution_outputs(model, images[:2])
    assert filters.shape == (16, 3, 3) and maps.shape == (2, 26, 26, 16)


def test_a_checkpoint_of_one_cannot_resume_the_other():
    make_deterministic(0)
    plain, averaged = build_model("blog_cnn"), build_model("blog_cnn", test_time_augmentation="flip")
    assert architecture(averaged) == [["FlipAveraged", {}], *architecture(plain)]
    assert architecture(build_model("blog_cnn", test_time_augmentation="flip")) == architecture(averaged)


def test_on_jax_too_a_mirror_image_gets_the_same_answer_and_the_model_saves(tmp_path: Path):
    script = f"""
import numpy as np
from fashion_mnist.loading import load_model
from fashion_mnist.model import build_model
from fashion_mnist.saving import save_model
from tests.synthetic import balanced_labels, make_images
labels = balanced_labels(4, seed=0)
images = make_images(labels, seed=1)
model = build_model("blog_cnn", test_time_augmentation="flip")
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
predicted = model.predict(images, verbose=0)
assert np.allclose(model.predict(images[:, :, ::-1], verbose=0), predicted, rtol=0, atol=1e-6)
save_model(model, {str(tmp_path / "model.keras")!r})
assert np.array_equal(load_model({str(tmp_path / "model.keras")!r}).predict(images, verbose=0), predicted)
print("jax ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPOSITORY,
        env=environment() | {"KERAS_BACKEND": "jax"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "jax ok" in result.stdout, result.stderr[-2000:]


def test_the_flip_check_scores_the_saved_model_with_and_without_its_averaging(tmp_path: Path, data):
    _, (images, labels) = data
    make_deterministic(0)
    model = build_model("blog_cnn", test_time_augmentation="flip")
    # Weights for which the mirror image changes some answers, so that the two scores can differ.
    model.classifier.set_weights([np.random.default_rng(0).normal(0, 0.3, w.shape) for w in model.get_weights()])
    save_model(model, tmp_path / "model.keras")
    report = flip_check(tmp_path / "model.keras", images, labels)
    averaged = (model.classifier.predict(images, verbose=0) + model.classifier.predict(flipped(images), verbose=0)) / 2
    alone = model.classifier.predict(images, verbose=0)
    assert report["val_accuracy_flip_averaged"] == round(float(np.mean(averaged.argmax(1) == labels)), 4)
    assert report["val_accuracy_without_averaging"] == round(float(np.mean(alone.argmax(1) == labels)), 4)
    assert (averaged.argmax(1) != alone.argmax(1)).any()


def test_the_flip_check_refuses_a_model_without_averaging(tmp_path: Path, data):
    _, (images, labels) = data
    save_model(build_model("blog_cnn"), tmp_path / "plain.keras")
    with pytest.raises(
        DataError, match=r"plain\.keras: expected a model saved with model.test_time_augmentation: flip"
    ):
        flip_check(tmp_path / "plain.keras", images, labels)
