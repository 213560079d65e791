"""Scores and figures of a trained classifier, checked against hand-counted examples."""

import keras
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from fashion_mnist.dataset import CLASS_NAMES
from fashion_mnist.evaluation import (
    confusion_matrix_figure,
    confusion_rows,
    evaluate_model,
    misclassified_figure,
    most_confused_metrics,
    most_confused_pairs,
    normalized_confusion_matrix,
    normalized_confusion_matrix_figure,
    per_class_scores,
)
from fashion_mnist.learning_curves import learning_curves
from tests.test_history import HISTORY

LABELS = np.array([0, 0, 0, 1, 1, 9])
PREDICTED = np.array([0, 0, 1, 1, 1, 0])


def test_per_class_scores_match_a_hand_count():
    table = per_class_scores(LABELS, PREDICTED)
    assert list(table.columns) == ["class", "precision", "recall", "f1", "support"]
    assert table["class"].tolist() == list(CLASS_NAMES)
    scores = table.set_index("class").to_dict(orient="index")
    # T-shirt/top: predicted 3 times, 2 right; 3 actual, 2 found.
    assert scores["T-shirt/top"]["precision"] == pytest.approx(2 / 3)
    assert scores["T-shirt/top"]["recall"] == pytest.approx(2 / 3)
    # Trouser: predicted 3 times, 2 right; 2 actual, both found.
    assert scores["Trouser"]["precision"] == pytest.approx(2 / 3)
    assert scores["Trouser"]["recall"] == 1.0
    assert scores["Trouser"]["f1"] == pytest.approx(0.8)
    assert scores["Ankle boot"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert scores["Bag"]["support"] == 0


def test_confusion_rows_name_the_classes():
    rows = confusion_rows(LABELS, PREDICTED)
    assert list(rows.columns) == ["actual", "predicted"]
    assert rows.iloc[2].tolist() == ["T-shirt/top", "Trouser"]
    assert rows.iloc[5].tolist() == ["Ankle boot", "T-shirt/top"]


def test_learning_curves_show_both_metrics_for_both_sets_and_the_best_epoch():
    figure = learning_curves(HISTORY, best_epoch=2, monitor="val_loss")
    accuracy, loss = figure.axes
    for axes, metric in [(accuracy, "accuracy"), (loss, "loss")]:
        assert axes.get_xlabel() == "epoch" and axes.get_ylabel() == metric
        labels = [text.get_text() for text in axes.get_legend().get_texts()]
        assert labels == ["training", "validation", "epoch kept: lowest val_loss (2)"]
        training, validation, best = axes.get_lines()
        assert training.get_ydata().tolist() == HISTORY[metric].tolist()
        assert validation.get_ydata().tolist() == HISTORY[f"val_{metric}"].tolist()
        assert list(best.get_xdata()) == [2, 2]


def test_the_confusion_matrix_figure_shows_sklearns_counts_with_class_names():
    figure = confusion_matrix_figure(LABELS, PREDICTED)
    (axes,) = figure.axes
    assert [label.get_text() for label in axes.get_xticklabels()] == list(CLASS_NAMES)
    assert [label.get_text() for label in axes.get_yticklabels()] == list(CLASS_NAMES)
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("Predicted label", "True label")
    # One text per cell, row by row: actual class down, predicted class across.
    shown = np.array([int(text.get_text()) for text in axes.texts]).reshape(10, 10)
    np.testing.assert_array_equal(shown, confusion_matrix(LABELS, PREDICTED, labels=range(10)))
    assert shown[0, 1] == 1 and shown[9, 0] == 1


def every_class(labels: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`labels` and `predicted` followed by one right answer for each class, so that no row of the matrix is empty."""
    classes = np.arange(len(CLASS_NAMES))
    return np.concatenate([labels, classes]), np.concatenate([predicted, classes])


def test_the_normalized_confusion_matrix_divides_each_row_by_its_class_count():
    labels, predicted = every_class(LABELS, PREDICTED)
    matrix = normalized_confusion_matrix(labels, predicted)
    np.testing.assert_allclose(matrix.sum(axis=1), 1)
    # T-shirt/top: 4 images (3 + 1 added), 3 called T-shirt/top and 1 Trouser.
    assert matrix[0, 0] == pytest.approx(3 / 4) and matrix[0, 1] == pytest.approx(1 / 4)
    # Ankle boot: 2 images, 1 called T-shirt/top.
    assert matrix[9, 0] == pytest.approx(1 / 2) and matrix[9, 9] == pytest.approx(1 / 2)
    counts = confusion_matrix(labels, predicted, labels=range(10))
    np.testing.assert_allclose(matrix, counts / counts.sum(axis=1, keepdims=True))


def test_a_class_without_images_gets_a_row_of_zeros():
    matrix = normalized_confusion_matrix(LABELS, PREDICTED)
    assert matrix[8].tolist() == [0.0] * 10  # No Bag in LABELS.
    np.testing.assert_allclose(matrix[[0, 1, 9]].sum(axis=1), 1)


def test_the_normalized_figure_writes_each_fraction_with_class_names():
    labels, predicted = every_class(LABELS, PREDICTED)
    figure = normalized_confusion_matrix_figure(labels, predicted)
    (axes,) = figure.axes
    assert [label.get_text() for label in axes.get_xticklabels()] == list(CLASS_NAMES)
    assert [label.get_text() for label in axes.get_yticklabels()] == list(CLASS_NAMES)
    shown = np.array([float(text.get_text()) for text in axes.texts]).reshape(10, 10)
    np.testing.assert_allclose(shown, normalized_confusion_matrix(labels, predicted), atol=0.005)
    assert axes.texts[0].get_text() == "0.75"


def test_the_most_confused_pairs_are_ordered_by_count_and_direction_matters():
    # Shirt (6) -> T-shirt/top (0) three times, T-shirt/top -> Shirt twice, Coat (4) -> Pullover (2) once.
    labels = np.array([6, 6, 6, 0, 0, 4, 4, 8])
    predicted = np.array([0, 0, 0, 6, 6, 2, 4, 8])
    assert most_confused_pairs(labels, predicted, count=3) == [
        {"true": "Shirt", "predicted": "T-shirt/top", "count": 3},
        {"true": "T-shirt/top", "predicted": "Shirt", "count": 2},
        {"true": "Coat", "predicted": "Pullover", "count": 1},
    ]
    # Right answers are never a confusion, and pairs that never happen are left out.
    assert most_confused_pairs(labels, predicted, count=5) == most_confused_pairs(labels, predicted, count=3)
    assert most_confused_pairs(np.array([1, 2]), np.array([1, 2])) == []


def test_ties_go_to_the_lower_true_class_then_the_lower_predicted_class():
    # Four mistakes, once each, given in scrambled order.
    labels = np.array([9, 3, 3, 1, 0])
    predicted = np.array([0, 7, 5, 2, 0])
    pairs = most_confused_pairs(labels, predicted, count=3)
    assert [(pair["true"], pair["predicted"]) for pair in pairs] == [
        ("Trouser", "Pullover"),
        ("Dress", "Sandal"),
        ("Dress", "Sneaker"),
    ]
    assert most_confused_pairs(labels[::-1], predicted[::-1], count=3) == pairs


def test_the_most_confused_metrics_are_flat_keys_that_dvc_shows():
    pairs = [
        {"true": "Shirt", "predicted": "T-shirt/top", "count": 123},
        {"true": "Coat", "predicted": "Shirt", "count": 7},
    ]
    assert most_confused_metrics(pairs) == {
        "most_confused_1": "Shirt -> T-shirt/top (123)",
        "most_confused_2": "Coat -> Shirt (7)",
    }


def one_hot_probabilities(predicted: np.ndarray, confidence: float) -> np.ndarray:
    """Class probabilities that put `confidence` on each predicted class and share the rest."""
    probabilities = np.full((len(predicted), 10), (1 - confidence) / 9)
    probabilities[np.arange(len(predicted)), predicted] = confidence
    return probabilities


def test_the_misclassified_grid_shows_only_the_wrong_images_in_order_with_their_labels():
    labels = np.array([0, 1, 6, 3, 4, 6, 7])
    predicted = np.array([0, 2, 0, 3, 2, 6, 7])  # Images 1, 2 and 4 are wrong.
    # Each image is filled with its own index, so a shown image says which one it is.
    images = np.broadcast_to(np.arange(len(labels), dtype=np.uint8)[:, None, None, None], (len(labels), 28, 28, 1))
    figure = misclassified_figure(images, labels, one_hot_probabilities(predicted, 0.8), rows=2, columns=3)

    assert len(figure.axes) == 6
    drawn = [axes for axes in figure.axes if axes.get_images()]
    assert [int(axes.get_images()[0].get_array()[0, 0]) for axes in drawn] == [1, 2, 4]
    assert [axes.get_title() for axes in drawn] == [
        "true: Trouser\npredicted: Pullover\nwith probability 0.80",
        "true: Shirt\npredicted: T-shirt/top\nwith probability 0.80",
        "true: Coat\npredicted: Pullover\nwith probability 0.80",
    ]
    assert figure.get_suptitle() == "The first 3 of 3 misclassified test images, in test-set order"


def test_the_misclassified_grid_keeps_the_first_ones_when_more_are_wrong_than_fit():
    labels = np.zeros(10, dtype=np.int64)
    predicted = np.array([1, 0, 2, 3, 0, 4, 5, 6, 7, 8])  # Eight wrong.
    images = np.broadcast_to(np.arange(10, dtype=np.uint8)[:, None, None, None], (10, 28, 28, 1))
    figure = misclassified_figure(images, labels, one_hot_probabilities(predicted, 0.5), rows=1, columns=4)
    shown = [int(axes.get_images()[0].get_array()[0, 0]) for axes in figure.axes if axes.get_images()]
    assert shown == [0, 2, 3, 5]
    assert figure.get_suptitle() == "The first 4 of 8 misclassified test images, in test-set order"


def test_test_metrics_agree_with_keras_evaluate_on_a_model_without_optimizer():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(10, activation="softmax")])
    images = np.random.default_rng(1).normal(size=(64, 6)).astype("float32")
    labels = np.random.default_rng(2).integers(0, 10, size=64)
    metrics, probabilities = evaluate_model(model, images=images, labels=labels)
    # The reference: Keras's own loss and accuracy, on a compiled copy of the same model.
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = model.evaluate(images, labels, verbose=0)
    assert metrics["test_accuracy"] == pytest.approx(accuracy)
    assert metrics["test_loss"] == pytest.approx(loss, rel=1e-5)
    assert probabilities.shape == (64, 10)
