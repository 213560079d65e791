"""Every file the pipeline reads or writes, relative to the repository root (as in dvc.yaml)."""

from pathlib import Path

PARAMS_FILE = Path("params.yaml")

RAW_DIR = Path("data/raw")
PREPARED_DIR = Path("data/prepared")
TRAIN_DATA = PREPARED_DIR / "train.npz"
TEST_DATA = PREPARED_DIR / "test.npz"

MODELS_DIR = Path("models")
MODEL = MODELS_DIR / "model.keras"
FINAL_MODEL = MODELS_DIR / "final.keras"

REPORTS_DIR = Path("reports")
DATA_REPORT = REPORTS_DIR / "data.json"

TRAIN_REPORTS = REPORTS_DIR / "train"
TRAIN_HISTORY = TRAIN_REPORTS / "history.csv"
TRAIN_METRICS = TRAIN_REPORTS / "metrics.json"
TRAIN_TIMING = TRAIN_REPORTS / "timing.json"
MODEL_SUMMARY = TRAIN_REPORTS / "model_summary.txt"
LEARNING_CURVES = TRAIN_REPORTS / "learning_curves.png"

FINAL_REPORTS = REPORTS_DIR / "final"
FINAL_HISTORY = FINAL_REPORTS / "history.csv"
FINAL_METRICS = FINAL_REPORTS / "metrics.json"
FINAL_TIMING = FINAL_REPORTS / "timing.json"
CONFUSION = FINAL_REPORTS / "confusion.csv"
CONFUSION_MATRIX = FINAL_REPORTS / "confusion_matrix.png"

# Resume state of interrupted training. Not a DVC output, so `dvc repro` leaves it in place.
CHECKPOINTS_DIR = Path(".checkpoints")

# The four files as Fashion-MNIST publishes them; download.files in params.yaml uses these names.
TRAIN_IMAGES_FILE = RAW_DIR / "train-images-idx3-ubyte.gz"
TRAIN_LABELS_FILE = RAW_DIR / "train-labels-idx1-ubyte.gz"
TEST_IMAGES_FILE = RAW_DIR / "t10k-images-idx3-ubyte.gz"
TEST_LABELS_FILE = RAW_DIR / "t10k-labels-idx1-ubyte.gz"
