"""Open `.keras` files safely, for whatever uses a trained model."""

from pathlib import Path

import keras

from fashion_mnist.errors import DataError

# Registers the project's own model class, FlipAveraged, which Keras must know to load a model that uses it.
from fashion_mnist.model import FlipAveraged  # noqa: F401


def load_model(path: Path) -> keras.Model:
    """Load a `.keras` model with safe mode on; a broken or foreign file raises DataError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: model file not found")
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad file; all mean the same here.
        raise DataError(f"{path}: not a readable Keras model ({type(error).__name__}: {error})") from None
