"""The classifiers' architectures, by name."""

import io

import keras
from keras import layers


def build_model(name: str, num_classes: int = 10) -> keras.Model:
    """The architecture called `name`: one of BUILDERS."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(BUILDERS)}")
    return BUILDERS[name](num_classes)


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
            # float32 whatever the policy: softmax and the loss lose too much in bfloat16.
            layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ],
        name="blog_cnn",
    )


def _convolutions(filters: int) -> list[layers.Layer]:
    # Two 3x3 convolutions see 5x5 with fewer weights than one; batch normalization makes the bias redundant.
    block = []
    for _ in range(2):
        block += [layers.Conv2D(filters, 3, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU()]
    return block


def build_vgg_bn_model(num_classes: int = 10) -> keras.Model:
    """A VGG-style CNN: three blocks of two batch-normalized convolutions (32, 64, 128 filters), halving the
    resolution between blocks, then global average pooling and dropout (289,066 parameters)."""
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Rescaling(1.0 / 255),
            *_convolutions(32),
            layers.MaxPooling2D(),
            *_convolutions(64),
            layers.MaxPooling2D(),
            *_convolutions(128),
            layers.GlobalAveragePooling2D(),
            layers.Dropout(0.3),
            layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ],
        name="vgg_bn",
    )


BUILDERS = {"blog_cnn": build_blog_model, "vgg_bn": build_vgg_bn_model}


def model_summary(model: keras.Model) -> str:
    """Return Keras's layer-by-layer summary of `model` as text."""
    buffer = io.StringIO()
    model.summary(print_fn=lambda line, **_: buffer.write(line + "\n"))
    return buffer.getvalue()
