"""The architectures, and saving and loading models safely and reproducibly."""

import json
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from fashion_mnist.errors import DataError
from fashion_mnist.loading import load_model
from fashion_mnist.model import BUILDERS, build_blog_model, build_model, build_vgg_fast_model, model_summary
from fashion_mnist.params import MODEL_NAMES
from fashion_mnist.saving import save_model


def test_the_blog_model_has_the_blog_layers_and_507530_parameters():
    model = build_blog_model()
    assert model.count_params() == 507_530
    assert [type(layer).__name__ for layer in model.layers] == [
        "Rescaling",
        "Conv2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "Dense",
        "Dense",
    ]
    probabilities = model.predict(np.zeros((2, 28, 28, 1), dtype=np.uint8), verbose=0)
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_name_of_params_builds_a_classifier_with_a_float32_output(name: str):
    assert set(BUILDERS) == set(MODEL_NAMES)
    model = build_model(name)
    assert model.name == name
    assert model.layers[-1].dtype_policy.compute_dtype == "float32"
    probabilities = model.predict(np.zeros((2, 28, 28, 1), dtype=np.uint8), verbose=0)
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_the_vgg_bn_model_is_smaller_than_the_blogs_with_batch_normalization_and_dropout():
    model = build_model("vgg_bn")
    assert model.count_params() == 289_066
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 6 and kinds.count("BatchNormalization") == 6
    assert "GlobalAveragePooling2D" in kinds and "Dropout" in kinds


def test_the_vgg_fast_model_halves_the_resolution_after_its_first_convolution():
    model = build_model("vgg_fast")
    assert model.count_params() == 576_938
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(layer.output.shape[1], layer.filters) for layer in convolutions] == [
        (28, 32),
        (14, 64),
        (14, 64),
        (7, 128),
        (7, 128),
        (3, 256),
    ]
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("BatchNormalization") == 6 and "GlobalMaxPooling2D" in kinds


def test_vgg_fast_takes_other_filters_in_the_same_layout():
    model = build_vgg_fast_model(filters=(32, 64, 160, 384))
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(layer.output.shape[1], layer.filters) for layer in convolutions] == [
        (28, 32),
        (14, 64),
        (14, 64),
        (7, 160),
        (7, 160),
        (3, 384),
    ]
    assert model.count_params() > build_model("vgg_fast").count_params()


def test_resnet9_adds_two_residual_blocks_and_ends_at_3x3_before_pooling():
    model = build_model("resnet9")
    assert model.count_params() == 6_576_458
    additions = [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert [tuple(layer.output.shape[1:]) for layer in additions] == [(14, 14, 128), (3, 3, 512)]
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.filters for layer in convolutions] == [64, 128, 128, 128, 256, 512, 512, 512]


def test_an_unknown_model_name_is_refused():
    expected = "blog_cnn, vgg_bn, vgg_fast, resnet9"
    with pytest.raises(ValueError, match=rf"unknown model 'resnet'; expected one of {expected}$"):
        build_model("resnet")


def test_the_summary_lists_every_layer_and_the_total():
    summary = model_summary(build_blog_model())
    assert "Total params: 507,530" in summary
    assert summary.count("Conv2D") == 2 and summary.count("Dense") == 3


def test_a_saved_model_loads_with_the_same_weights(tmp_path: Path):
    model = build_blog_model()
    save_model(model, tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    for saved, restored in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, restored)
    assert [path.name for path in tmp_path.iterdir()] == ["model.keras"]


def test_the_same_model_saved_twice_gives_identical_files_that_still_load(tmp_path: Path):
    model = build_model("vgg_bn")
    save_model(model, tmp_path / "first.keras")
    # Keras's save time has a one-second resolution; zip entry times two.
    time.sleep(2.1)
    save_model(model, tmp_path / "second.keras")
    assert (tmp_path / "first.keras").read_bytes() == (tmp_path / "second.keras").read_bytes()
    loaded = load_model(tmp_path / "second.keras")
    for saved, restored in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, restored)


def test_two_models_with_the_same_weights_built_apart_give_identical_files(tmp_path: Path):
    # Under mixed precision, layers share a dtype policy object, which Keras marks with its memory address.
    built = []
    try:
        for _ in range(2):
            # As in a new process: layer names are numbered afresh (which also resets the policy).
            keras.backend.clear_session()
            keras.mixed_precision.set_global_policy("mixed_bfloat16")
            built.append(build_model("blog_cnn"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    first, second = built
    second.set_weights(first.get_weights())
    save_model(first, tmp_path / "first.keras")
    save_model(second, tmp_path / "second.keras")
    assert (tmp_path / "first.keras").read_bytes() == (tmp_path / "second.keras").read_bytes()
    loaded = load_model(tmp_path / "second.keras")
    assert loaded.layers[0].dtype_policy.name == "mixed_bfloat16"
    assert loaded.layers[-1].dtype_policy.name == "float32"


def test_a_corrupt_model_file_is_named(tmp_path: Path):
    save_model(build_blog_model(), tmp_path / "model.keras")
    content = (tmp_path / "model.keras").read_bytes()
    (tmp_path / "model.keras").write_bytes(content[: len(content) // 2])
    with pytest.raises(DataError, match=r"model\.keras: not a readable Keras model"):
        load_model(tmp_path / "model.keras")


def test_a_file_that_is_not_a_model_is_named(tmp_path: Path):
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:
        archive.writestr("notes.txt", "not a model")
    with pytest.raises(DataError, match=r"model\.keras: not a readable Keras model"):
        load_model(tmp_path / "model.keras")


def test_a_missing_model_file_is_named(tmp_path: Path):
    with pytest.raises(DataError, match=r"model\.keras: model file not found"):
        load_model(tmp_path / "model.keras")


def test_a_saved_model_carries_no_optimizer_state_and_predicts_the_same(tmp_path: Path):
    model = build_blog_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(0).integers(0, 256, size=(8, 28, 28, 1)).astype("uint8")
    model.fit(images, np.arange(8), epochs=1, verbose=0)
    assert model.optimizer.variables, "Adam's moments exist once it has stepped"
    save_model(model, tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        config = json.loads(archive.read("config.json"))
    assert not config.get("compile_config"), "no optimizer or loss to restore"
    loaded = load_model(tmp_path / "model.keras")
    assert not loaded.compiled and getattr(loaded, "optimizer", None) is None
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), model.predict(images, verbose=0))
    # Adam's two moments per weight would make the file about three times the weights' size.
    assert (tmp_path / "model.keras").stat().st_size < 1.2 * 4 * model.count_params()
