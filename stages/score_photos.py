"""Stage score-photos: score the final model on real phone photos of clothes, through `predict`'s own path.

The photos (data/photos) are not Fashion-MNIST's: this stage makes no decision, and reads no test image.
"""

import pandas as pd

from fashion_mnist import paths
from fashion_mnist.backend import cap_instruction_set
from fashion_mnist.files import save_figure, write_csv, write_json
from fashion_mnist.params import load_params
from fashion_mnist.photo_scores import GARMENTS, photo_metrics, read_labels, score_photos, steps_figure
from fashion_mnist.stage import check_backend, refuse_inside_experiment, run_stage


def main() -> None:
    """Prepare and classify every labelled photo; write the metrics, each photo's outcome and the steps' figure."""
    refuse_inside_experiment("score-photos")
    train = load_params(["train"])["train"]
    check_backend(train["backend"])
    print(f"instruction set: {cap_instruction_set(train['cpu_isa'])}")
    rows = read_labels(paths.PHOTO_LABELS)
    outcomes = score_photos(paths.PHOTOS_DIR, rows, paths.FINAL_MODEL)
    metrics = photo_metrics(outcomes)
    write_json(paths.PHOTO_METRICS, metrics)
    write_csv(paths.PHOTO_OUTCOMES, pd.DataFrame(outcomes))
    # The first photo of each garment class, and the first pair of shoes.
    examples = [next(row["file"] for row in rows if row["label"] == name) for name in GARMENTS]
    examples.append(next(row["file"] for row in rows if row["kind"] == "pair"))
    save_figure(steps_figure(paths.PHOTOS_DIR, outcomes, examples), paths.PHOTO_STEPS)
    for group in ("garments", "shoes"):
        scores = metrics[group]
        print(f"{group}: {scores['accuracy']:.1%} right, {scores['refused']:.1%} refused of {scores['photos']} photos")


if __name__ == "__main__":
    run_stage(main)
