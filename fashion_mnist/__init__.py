"""Fashion-MNIST classifier: the logic behind the DVC pipeline's stage scripts."""

import os

# Keep TensorFlow's C++ INFO notices (CPU instruction sets and the like) out of the training log.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
