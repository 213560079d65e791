"""Fashion-MNIST classifier: the logic behind the DVC pipeline's stage scripts."""

import os

# TensorFlow's C++ start-up notices (CPU features, oneDNN) bury the training log; warnings still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
