"""Score the model on real photos of clothes (data/photos) through `predict`'s own path, per class and per kind."""

import csv
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fashion_mnist.dataset import CLASS_NAMES
from fashion_mnist.errors import DataError
from fashion_mnist.photo import PhotoError, load_photo, prepare_photo, prepare_steps
from fashion_mnist.predict import predict_probabilities

COLUMNS = ("file", "label", "source_class", "kind")
KINDS = ("flat", "hanging", "pair", "single")
# The classes of garments, which people photograph as Fashion-MNIST shows them; its shoes are one shoe
# from the side, and people photograph a pair from above.
GARMENTS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Shirt")


def read_labels(path: Path) -> list[dict[str, str]]:
    """The rows of a labels file (file, label, source_class, kind); a photo without a label is left out."""
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise DataError(f"{path}: the columns are {reader.fieldnames}; expected {', '.join(COLUMNS)}")
        rows = list(reader)
    for line, row in enumerate(rows, start=2):
        if row["label"] and row["label"] not in CLASS_NAMES:
            raise DataError(f"{path}, line {line}: unknown label {row['label']!r}; expected one of {CLASS_NAMES}")
        if row["kind"] not in KINDS:
            raise DataError(f"{path}, line {line}: unknown kind {row['kind']!r}; expected one of {KINDS}")
    return [row for row in rows if row["label"]]


def score_photos(folder: Path, rows: list[dict[str, str]], model: Path) -> list[dict]:
    """Each labelled photo's outcome: the class predicted and its probability, or why it was refused."""
    prepared, outcomes = [], []
    for row in rows:
        outcome = {"file": row["file"], "label": row["label"], "kind": row["kind"]}
        outcome |= {"predicted": "", "probability": None, "refused": ""}
        try:
            prepared.append(prepare_photo(folder / row["file"]))
        except PhotoError as error:
            outcome["refused"] = str(error).removeprefix(f"{folder}/")
        outcomes.append(outcome)
    probabilities = predict_probabilities(model, np.stack(prepared)) if prepared else np.empty((0, 10))
    scored = (outcome for outcome in outcomes if not outcome["refused"])
    for outcome, row in zip(scored, probabilities, strict=True):
        outcome["predicted"] = CLASS_NAMES[int(row.argmax())]
        outcome["probability"] = round(float(row.max()), 4)
    return outcomes


def shares(outcomes: list[dict]) -> dict:
    """How many photos, the share classified right and the share refused; a refused photo counts as wrong."""
    count = len(outcomes)
    right = sum(outcome["predicted"] == outcome["label"] for outcome in outcomes)
    refused = sum(bool(outcome["refused"]) for outcome in outcomes)
    return {
        "photos": count,
        "accuracy": round(right / count, 4) if count else 0.0,
        "refused": round(refused / count, 4) if count else 0.0,
    }


def photo_metrics(outcomes: list[dict]) -> dict:
    """The metrics file: garments and shoes, then each class and each kind of photo."""
    garments = [outcome for outcome in outcomes if outcome["label"] in GARMENTS]
    shoes = [outcome for outcome in outcomes if outcome["label"] not in GARMENTS]
    return {
        "garments": shares(garments),
        "shoes": shares(shoes),
        "per_class": {
            name: shares([outcome for outcome in outcomes if outcome["label"] == name])
            for name in CLASS_NAMES
            if any(outcome["label"] == name for outcome in outcomes)
        },
        "per_kind": {
            kind: shares([outcome for outcome in outcomes if outcome["kind"] == kind])
            for kind in KINDS
            if any(outcome["kind"] == kind for outcome in outcomes)
        },
    }


def steps_figure(folder: Path, outcomes: list[dict], files: list[str]) -> Figure:
    """Photo, item found, and 28x28 input, a row for each of `files`, with the class predicted or the refusal."""
    by_file = {outcome["file"]: outcome for outcome in outcomes}
    figure = Figure(figsize=(7.5, 2.3 * len(files)), layout="constrained")
    axes = figure.subplots(len(files), 3, squeeze=False)
    for row, name in zip(axes, files, strict=True):
        image, outcome = load_photo(folder / name), by_file[name]
        row[0].imshow(image)
        row[0].set_title(f"{outcome['label']} ({outcome['kind']})", fontsize=9)
        try:
            steps = prepare_steps(image)
        except PhotoError:
            row[1].imshow(image // 4)
            row[1].set_title("refused", fontsize=9)
            row[2].text(
                0.5,
                0.5,
                outcome["refused"].split(": ", 1)[-1][:60] + "...",
                ha="center",
                va="center",
                wrap=True,
                fontsize=7,
            )
        else:
            found = np.where(steps.item[..., np.newaxis], image, image // 4)
            row[1].imshow(found[steps.rows, steps.columns])
            row[1].set_title(f"item found ({steps.method})", fontsize=9)
            row[2].imshow(steps.image, cmap="gray", vmin=0, vmax=255)
            verdict = "right" if outcome["predicted"] == outcome["label"] else "wrong"
            row[2].set_title(f"28x28: {outcome['predicted']} {outcome['probability']:.2f}, {verdict}", fontsize=9)
        for axis in row:
            axis.set_xticks([])
            axis.set_yticks([])
    return figure
