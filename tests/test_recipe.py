"""The fast recipe's pieces: label smoothing, the weights' moving average, weight decay that spares biases and
batch normalization, and a retraining that repeats the validated steps and learning rates one for one."""

from itertools import pairwise
from pathlib import Path

import keras
import numpy as np
import pytest

from benchmarks.recipe import ladder_steps
from fashion_mnist.backend import make_deterministic
from fashion_mnist.batches import batch_stream, epoch_batches, steps_per_epoch
from fashion_mnist.errors import ParamsError
from fashion_mnist.model import build_model
from fashion_mnist.params import load_params
from fashion_mnist.recipes import apply_recipe, load_recipes, recipe_named, set_param_flags
from fashion_mnist.training import SparseCrossentropyWithLabelSmoothing, build_optimizer, train_model
from tests.synthetic import balanced_labels, make_images

REPOSITORY = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data():
    labels = balanced_labels(10, seed=0)
    images = make_images(labels, seed=1)
    return (images[:80], labels[:80]), (images[80:], labels[80:])


def train_tiny(model_name: str, images, labels, validation, *, seed: int, **settings):
    """A freshly built `model_name` trained by train_model on tiny data, batch 16, without a checkpoint unless one is
    given; returns the model and its history."""
    make_deterministic(seed)
    model = build_model(model_name)
    settings = {"batch_size": 16, "learning_rate": 0.001, "checkpoint_dir": None} | settings
    history = train_model(model, images=images, labels=labels, validation_data=validation, seed=seed, **settings)
    return model, history


def test_label_smoothing_moves_the_target_off_the_true_class():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype="float32")
    labels = np.array([0, 1])
    smoothing = 0.3
    targets = np.full((2, 3), smoothing / 3) + (1 - smoothing) * np.eye(3)[labels]
    expected = np.mean(-np.sum(targets * np.log(probabilities), axis=1))
    loss = SparseCrossentropyWithLabelSmoothing(smoothing)(labels, probabilities)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    plain = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    assert float(loss) > float(plain), "the smoothed target punishes certainty, so it costs more here"


def test_label_smoothing_changes_training(data, tmp_path: Path):
    def run(smoothing: float):
        _, history = train_tiny("blog_cnn", *data[0], data[1], seed=3, epochs=1, label_smoothing=smoothing)
        return history

    assert run(0.0)["loss"].iloc[0] != run(0.1)["loss"].iloc[0]


def test_weight_decay_spares_biases_and_batch_normalization():
    model = build_model("vgg_bn")
    optimizer = build_optimizer(model, 0.1, weight_decay=0.5, ema_momentum=None)
    before = [np.array(variable) for variable in model.trainable_variables]
    # With zero gradients Adam's step is zero, so any change is the decay alone.
    optimizer.apply_gradients([(keras.ops.zeros_like(v), v) for v in model.trainable_variables])
    decayed, spared = [], []
    for variable, old in zip(model.trainable_variables, before, strict=True):
        new = np.array(variable)
        (decayed if len(variable.shape) > 1 else spared).append(variable.path)
        if len(variable.shape) > 1:
            np.testing.assert_allclose(new, old * (1 - 0.1 * 0.5), rtol=1e-6)
        else:
            np.testing.assert_array_equal(new, old)
    assert any("gamma" in path for path in spared) and any("beta" in path for path in spared)
    assert any("bias" in path for path in spared) and any("kernel" in path for path in decayed)


def test_the_model_keeps_the_moving_average_of_its_weights(data):
    """Without validation (as in final-train), the model ends with the average of the weights after each step."""
    (images, labels), _ = data
    momentum, seen = 0.9, []

    class RecordWeights(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append([np.array(variable) for variable in self.model.trainable_variables])

    original_fit = keras.Model.fit

    def fit_recording(self, *args, callbacks=(), **kwargs):
        # First, so that it sees the raw weights of each step, before any swap.
        return original_fit(self, *args, callbacks=[RecordWeights(), *callbacks], **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keras.Model, "fit", fit_recording)
        model, _ = train_tiny("blog_cnn", images, labels, None, seed=5, epochs=2, ema_momentum=momentum)
    average = seen[0]  # Keras starts the average at the first step's weights.
    for weights in seen[1:]:
        average = [momentum * old + (1 - momentum) * new for old, new in zip(average, weights, strict=True)]
    kept = [np.array(variable) for variable in model.trainable_variables]
    for expected, actual in zip(average, kept, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(kept[0], seen[-1][0]), "the kept weights are the average, not the last step's"


def test_validation_scores_the_moving_average_and_the_best_one_is_kept(data, tmp_path: Path):
    (images, labels), validation = data
    model, history = train_tiny(
        "vgg_bn",
        images,
        labels,
        validation,
        seed=5,
        epochs=3,
        learning_rate=0.003,
        ema_momentum=0.8,
        monitor="val_accuracy",  # The recipes' own.
        checkpoint_dir=tmp_path / "checkpoint",
    )
    best = history.loc[history["val_accuracy"].idxmax()]
    _, accuracy = model.evaluate(*validation, batch_size=16, verbose=0)
    assert accuracy == pytest.approx(best["val_accuracy"], abs=1e-6)


def test_a_stream_resumed_within_an_epoch_gives_the_same_batches(data):
    (images, labels), _ = data
    settings = {"batch_size": 16, "seed": 2, "augment": True}
    whole = list(batch_stream(images, labels, first_step=0, steps=13, **settings))
    assert len(whole) == 13 and steps_per_epoch(len(labels), batch_size=16) == 5
    rest = list(batch_stream(images, labels, first_step=7, steps=13, **settings))
    for (one, one_labels), (other, other_labels) in zip(whole[7:], rest, strict=True):
        np.testing.assert_array_equal(one, other)
        np.testing.assert_array_equal(one_labels, other_labels)
    second_epoch = list(epoch_batches(images, labels, epoch=1, **settings))
    np.testing.assert_array_equal(whole[5][0], second_epoch[0][0])


def test_the_retraining_repeats_the_validated_steps_and_learning_rates(data):
    """final.epochs: auto: the best epoch's steps on train's schedule, on more images, step for step."""
    (images, labels), validation = data
    validated_steps = steps_per_epoch(len(labels), batch_size=16)
    settings = {"learning_rate": 0.01, "schedule": "cosine", "seed": 4}
    validated, _ = train_tiny("blog_cnn", images, labels, validation, epochs=4, **settings)

    everything = np.concatenate([images, validation[0]]), np.concatenate([labels, validation[1]])
    assert steps_per_epoch(len(everything[1]), batch_size=16) != validated_steps
    final, _ = train_tiny(
        "blog_cnn", *everything, None, epochs=2, epoch_steps=validated_steps, schedule_epochs=4, **settings
    )
    assert int(final.optimizer.iterations) == 2 * validated_steps

    def rates(optimizer, steps):
        values = []
        for step in range(steps):
            optimizer.iterations.assign(step)
            values.append(float(optimizer.learning_rate))
        return values

    assert rates(final.optimizer, 4 * validated_steps) == rates(validated.optimizer, 4 * validated_steps)
    assert rates(final.optimizer, 2)[1] > 0 and rates(final.optimizer, 4 * validated_steps)[-1] < 0.01


def test_the_recipes_file_holds_valid_params_and_prints_them_as_flags():
    recipes = load_recipes(REPOSITORY / "recipes.yaml")
    assert "fast" in recipes
    flags = set_param_flags(recipes["fast"])
    assert flags[0::2] == ["-S"] * len(recipes["fast"])
    assert "train.ema_momentum=0.99" in flags and "train.precision=mixed_bfloat16" in flags
    assert set_param_flags({"train.augment": True, "train.ema_momentum": None}) == [
        "-S",
        "train.augment=true",
        "-S",
        "train.ema_momentum=null",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "fast:\n  params:\n    train.epochs: 0\n",
            r"recipe 'fast' sets train.epochs to 0; it must be an integer >= 1",
        ),
        ("fast:\n  params:\n    train.speed: 2\n", r"recipe 'fast' sets 'train.speed', which is no key of params.yaml"),
        ("fast:\n  description: no params\n", r"recipe 'fast' needs a mapping `params`"),
        ("[1, 2]\n", r"expected a mapping of recipe names"),
    ],
)
def test_a_bad_recipe_is_named_with_its_key(tmp_path: Path, content: str, message: str):
    (tmp_path / "recipes.yaml").write_text(content)
    with pytest.raises(ParamsError, match=rf"recipes\.yaml: {message}"):
        load_recipes(tmp_path / "recipes.yaml")


def test_a_recipe_is_found_by_name_or_refused_with_the_names_there_are():
    assert recipe_named("accurate") == load_recipes()["accurate"]
    with pytest.raises(ParamsError, match="no recipe 'fastest' in recipes.yaml; it has fast, accurate, gpu"):
        recipe_named("fastest")


def test_a_recipe_sets_its_keys_in_a_copy_of_the_params():
    params = {"train": {"epochs": 40, "batch_size": 128}, "model": {"name": "blog_cnn"}}
    applied = apply_recipe(params, {"train.epochs": 8, "model.name": "vgg_bn"})
    assert applied == {"train": {"epochs": 8, "batch_size": 128}, "model": {"name": "vgg_bn"}}
    assert params["train"]["epochs"] == 40 and params["model"]["name"] == "blog_cnn", "the params are left alone"


def test_the_ladder_adds_one_trick_per_step_and_ends_with_the_recipe():
    params = load_params(["model", "train"], REPOSITORY / "params.yaml")
    default, recipe = params["train"], apply_recipe(params, load_recipes(REPOSITORY / "recipes.yaml")["fast"])["train"]
    steps = ladder_steps(default, recipe)
    assert steps[-1][1] == recipe
    assert steps[0][1]["learning_rate"] == default["learning_rate"] and steps[0][1]["epochs"] == recipe["epochs"]
    for (_, before), (name, after) in pairwise(steps):
        assert before != after, f"{name} changes nothing"
    assert [name for name, _ in steps[1:4]] == [
        "+ batch 256, learning rate 0.003, cosine schedule",
        "+ label smoothing 0.1",
        "+ moving average of the weights, momentum 0.99",
    ]


def test_each_optimizer_that_params_names_is_built():
    from fashion_mnist.params import OPTIMIZERS as NAMED
    from fashion_mnist.training import OPTIMIZERS

    assert set(NAMED) == set(OPTIMIZERS)
    model = build_model("blog_cnn")
    built = {name: build_optimizer(model, 0.01, weight_decay=None, ema_momentum=None, name=name) for name in NAMED}
    assert isinstance(built["adam"], keras.optimizers.Adam)
    assert built["sgd"].momentum == 0 and built["momentum"].momentum == 0.9
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        build_optimizer(model, 0.01, weight_decay=None, ema_momentum=None, name="rmsprop")
