"""The classifier's architecture."""

import io
from pathlib import Path

import keras
from keras import layers

from fashion_mnist.errors import DataError
from fashion_mnist.files import atomic_path


def build_blog_model(num_classes: int = 10) -> keras.Model:
    """The blog's CNN: two convolutions, one max-pooling, three dense layers (507,530 parameters)."""
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(16, kernel_size=3, activation="relu"),
            layers.Conv2D(64, kernel_size=3, activation="relu"),
            layers.MaxPooling2D(pool_size=3, strides=2),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(32, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="blog_cnn",
    )


def model_summary(model: keras.Model) -> str:
    """Return Keras's layer-by-layer summary of `model` as text."""
    buffer = io.StringIO()
    model.summary(print_fn=lambda line, **_: buffer.write(line + "\n"))
    return buffer.getvalue()


def save_model(model: keras.Model, path: Path) -> None:
    """Save `model` as a `.keras` file atomically."""
    with atomic_path(path) as temporary:
        model.save(temporary)


def load_model(path: Path) -> keras.Model:
    """Load a `.keras` model with safe mode on; a broken or foreign file raises DataError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: model file not found")
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad file; all mean the same here.
        raise DataError(f"{path}: not a readable Keras model ({type(error).__name__}: {error})") from None
