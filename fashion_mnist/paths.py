"""Every file the pipeline reads or writes, relative to the repository root (as in dvc.yaml)."""

from pathlib import Path

PARAMS_FILE = Path("params.yaml")
RECIPES_FILE = Path("recipes.yaml")
# The mirrors and checksums of the download stage: data the stage depends on, kept in git.
SOURCES_FILE = Path("data/sources.yaml")

RAW_DIR = Path("data/raw")
PREPARED_DIR = Path("data/prepared")
TRAIN_DATA = PREPARED_DIR / "train.npz"
TEST_DATA = PREPARED_DIR / "test.npz"

MODELS_DIR = Path("models")
MODEL = MODELS_DIR / "model.keras"
FINAL_MODEL = MODELS_DIR / "final.keras"
INT8_MODEL = MODELS_DIR / "final_int8.tflite"

REPORTS_DIR = Path("reports")
DATA_REPORT = REPORTS_DIR / "data.csv"

TRAIN_REPORTS = REPORTS_DIR / "train"
# DVCLive writes each epoch's metrics under <reports>/plots/metrics/, a TSV file per metric.
TRAIN_EPOCHS = TRAIN_REPORTS / "plots" / "metrics"
TRAIN_METRICS = TRAIN_REPORTS / "metrics.json"
# The epoch validation chose, alone in its file: final-train depends on it and on nothing else of train's.
BEST_EPOCH = TRAIN_REPORTS / "best_epoch.json"
TRAIN_TIMING = TRAIN_REPORTS / "timing.json"
MODEL_SUMMARY = TRAIN_REPORTS / "model_summary.txt"
TRAIN_ENVIRONMENT = TRAIN_REPORTS / "environment.json"
LEARNING_CURVES = TRAIN_REPORTS / "learning_curves.png"
CONVOLUTION = TRAIN_REPORTS / "convolution.png"

FINAL_TRAIN_REPORTS = REPORTS_DIR / "final-train"
FINAL_TIMING = FINAL_TRAIN_REPORTS / "timing.json"
FINAL_ENVIRONMENT = FINAL_TRAIN_REPORTS / "environment.json"

FINAL_REPORTS = REPORTS_DIR / "final"
FINAL_METRICS = FINAL_REPORTS / "metrics.json"
PER_CLASS = FINAL_REPORTS / "per_class.csv"
CONFUSION = FINAL_REPORTS / "confusion.csv"
CONFUSION_MATRIX = FINAL_REPORTS / "confusion_matrix.png"
CONFUSION_MATRIX_NORMALIZED = FINAL_REPORTS / "confusion_matrix_normalized.png"
MISCLASSIFIED = FINAL_REPORTS / "misclassified.png"

# Real phone photos of clothes, labelled with Fashion-MNIST's classes, kept in git (see its README).
PHOTOS_DIR = Path("data/photos")
PHOTO_LABELS = PHOTOS_DIR / "labels.csv"
PHOTO_REPORTS = REPORTS_DIR / "photos"
PHOTO_METRICS = PHOTO_REPORTS / "metrics.json"
PHOTO_OUTCOMES = PHOTO_REPORTS / "outcomes.csv"
PHOTO_STEPS = PHOTO_REPORTS / "steps.png"

EXPORT_REPORTS = REPORTS_DIR / "export"
EXPORT_METRICS = EXPORT_REPORTS / "metrics.json"
EXPORT_TIMING = EXPORT_REPORTS / "timing.json"

# Resume state of interrupted training. Not a DVC output, so `dvc repro` leaves it in place.
CHECKPOINTS_DIR = Path(".checkpoints")
# JAX's compiled programs, which the training stages share (fashion_mnist.backend.cache_compilations).
COMPILATION_CACHE_DIR = Path(".compilation-cache")

# The four files as Fashion-MNIST publishes them, which data/sources.yaml names, with the size of
# each one's decompressed IDX content: no genuine copy holds more, so a download may not either.
SOURCE_FILES = {
    "train-images-idx3-ubyte.gz": 47_040_016,
    "train-labels-idx1-ubyte.gz": 60_008,
    "t10k-images-idx3-ubyte.gz": 7_840_016,
    "t10k-labels-idx1-ubyte.gz": 10_008,
}

# data/raw keeps the decompressed IDX files: mirrors gzip them differently, but their content is the same.
TRAIN_IMAGES_FILE = RAW_DIR / "train-images-idx3-ubyte"
TRAIN_LABELS_FILE = RAW_DIR / "train-labels-idx1-ubyte"
TEST_IMAGES_FILE = RAW_DIR / "t10k-images-idx3-ubyte"
TEST_LABELS_FILE = RAW_DIR / "t10k-labels-idx1-ubyte"
