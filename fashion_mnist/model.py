"""The classifiers' architectures, by name."""

import io

import keras
from keras import layers


def build_model(name: str, num_classes: int = 10, test_time_augmentation: str = "none") -> keras.Model:
    """The architecture called `name`, one of BUILDERS; with test_time_augmentation "flip", wrapped in FlipAveraged."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(BUILDERS)}")
    if test_time_augmentation not in TEST_TIME_AUGMENTATIONS:
        raise ValueError(
            f"unknown test-time augmentation {test_time_augmentation!r}; expected one of "
            f"{', '.join(TEST_TIME_AUGMENTATIONS)}"
        )
    classifier = BUILDERS[name](num_classes)
    return FlipAveraged(classifier) if test_time_augmentation == "flip" else classifier


@keras.saving.register_keras_serializable(package="fashion_mnist")
class FlipAveraged(keras.Model):
    """A classifier whose predictions average its probabilities for the image and for its mirror image.

    This is flip test-time augmentation inside the model, so that validation, the test score, the int8 export
    and `predict` all see the same function. Training (`training=True`) sees each image once, as it comes: the
    augmentation of training is the input pipeline's. Mirrored clothes look alike, but Fashion-MNIST's shoes all
    face one way: the mirror image is one the model knows only if training flipped images too (train.augment).
    """

    def __init__(self, classifier: keras.Model, **kwargs):
        super().__init__(name=kwargs.pop("name", f"{classifier.name}_flip_averaged"), **kwargs)
        self.classifier = classifier
        # One symbolic call builds the wrapper and records its input shape, as Keras's export and summary need.
        self(keras.Input(shape=classifier.input_shape[1:]))

    def call(self, images, training: bool = False):
        probabilities = self.classifier(images, training=training)
        if training:
            return probabilities
        # Images are (batch, rows, columns, channels): axis 2 runs left to right.
        mirrored = self.classifier(keras.ops.flip(images, axis=2), training=False)
        return (probabilities + mirrored) / 2

    def get_config(self) -> dict:
        return {**super().get_config(), "classifier": keras.saving.serialize_keras_object(self.classifier)}

    @classmethod
    def from_config(cls, config: dict) -> "FlipAveraged":
        config = dict(config)
        classifier = keras.saving.deserialize_keras_object(config.pop("classifier"))
        return cls(classifier, **config)


def classifier_of(model: keras.Model) -> keras.Model:
    """The network inside `model`: the classifier that FlipAveraged wraps, or the model itself."""
    return model.classifier if isinstance(model, FlipAveraged) else model


def architecture_of(model: keras.Model) -> dict:
    """build_model's arguments that rebuild `model`'s architecture, for instance under another dtype policy."""
    classifier = classifier_of(model)
    return {
        "name": classifier.name,
        "num_classes": classifier.output_shape[-1],
        "test_time_augmentation": "flip" if isinstance(model, FlipAveraged) else "none",
    }


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


def _convolution(filters: int) -> list[layers.Layer]:
    # Batch normalization makes the convolution's bias redundant.
    return [layers.Conv2D(filters, 3, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU()]


def _convolutions(filters: int) -> list[layers.Layer]:
    # Two 3x3 convolutions see 5x5 with fewer weights than one.
    return [*_convolution(filters), *_convolution(filters)]


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


# vgg_fast's filters at 28x28, 14x14, 7x7 and 3x3.
VGG_FAST_FILTERS = (32, 64, 128, 256)


def build_vgg_fast_model(num_classes: int = 10, filters: tuple[int, int, int, int] = VGG_FAST_FILTERS) -> keras.Model:
    """vgg_bn's batch-normalized convolutions, laid out for speed: one convolution at 28x28 (32 filters), two at
    14x14 (64), two at 7x7 (128) and one at 3x3 (256), then global max pooling and one dense layer (576,938
    parameters). vgg_bn runs two convolutions at full resolution, this one a single one before halving it, so a
    step costs less (benchmarks/precision.py times both). Other `filters` make it wider (benchmarks/width.py)."""
    full, half, quarter, eighth = filters
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Rescaling(1.0 / 255),
            *_convolution(full),
            layers.MaxPooling2D(),
            *_convolutions(half),
            layers.MaxPooling2D(),
            *_convolutions(quarter),
            layers.MaxPooling2D(),
            *_convolution(eighth),
            layers.GlobalMaxPooling2D(),
            layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ],
        name="vgg_fast",
    )


def _residual(inputs, filters: int):
    # Two convolutions added to what came in: the block learns a correction, and gradients also take the short path.
    outputs = inputs
    for layer in _convolutions(filters):
        outputs = layer(outputs)
    return layers.Add()([inputs, outputs])


def build_resnet9_model(num_classes: int = 10) -> keras.Model:
    """The ResNet-9 of Page's "How to train your ResNet" (DAWNBench, CIFAR-10), for 28x28 images: batch-normalized
    3x3 convolutions of 64 filters, then 128 with max pooling and a residual block of two, 256 with pooling, 512 with
    pooling and a residual block of two, then global max pooling and one dense layer (6,576,458 parameters). Wide
    layers for a GPU, where a step's arithmetic is cheap and its count is what costs."""
    inputs = keras.Input(shape=(28, 28, 1))
    outputs = layers.Rescaling(1.0 / 255)(inputs)
    for layer in _convolution(64):
        outputs = layer(outputs)
    for filters, residual in ((128, True), (256, False), (512, True)):
        for layer in [*_convolution(filters), layers.MaxPooling2D()]:
            outputs = layer(outputs)
        if residual:
            outputs = _residual(outputs, filters)
    outputs = layers.GlobalMaxPooling2D()(outputs)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(outputs)
    return keras.Model(inputs, outputs, name="resnet9")


BUILDERS = {
    "blog_cnn": build_blog_model,
    "vgg_bn": build_vgg_bn_model,
    "vgg_fast": build_vgg_fast_model,
    "resnet9": build_resnet9_model,
}
TEST_TIME_AUGMENTATIONS = ("none", "flip")


def model_summary(model: keras.Model) -> str:
    """Return Keras's layer-by-layer summary of `model`'s classifier as text, and how FlipAveraged uses it."""
    buffer = io.StringIO()
    classifier_of(model).summary(print_fn=lambda line, **_: buffer.write(line + "\n"))
    if isinstance(model, FlipAveraged):
        buffer.write(
            f"{model.name}: at inference, the mean of {model.classifier.name}'s probabilities for each image "
            "and for its mirror image (model.test_time_augmentation: flip)\n"
        )
    return buffer.getvalue()
