"""Scores and figures of a trained classifier, checked against hand-counted examples."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from fashion_mnist.dataset import CLASS_NAMES
from fashion_mnist.evaluation import confusion_matrix_figure, confusion_rows, per_class_scores
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
    figure = learning_curves(HISTORY, best_epoch=2)
    accuracy, loss = figure.axes
    for axes, metric in [(accuracy, "accuracy"), (loss, "loss")]:
        assert axes.get_xlabel() == "epoch" and axes.get_ylabel() == metric
        labels = [text.get_text() for text in axes.get_legend().get_texts()]
        assert labels == ["training", "validation", "best validation accuracy (epoch 2)"]
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
