"""Read and validate params.yaml, so a bad value stops a stage with an error naming its key."""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, YAMLError

from fashion_mnist.errors import ParamsError
from fashion_mnist.paths import PARAMS_FILE

# The choices of the keys that name one; tests check that the package knows each of them.
MODEL_NAMES = ("blog_cnn", "vgg_bn", "vgg_fast", "resnet9")
TEST_TIME_AUGMENTATIONS = ("none", "flip")
SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "momentum", "sgd")
PRECISIONS = ("float32", "mixed_bfloat16", "auto")
BACKENDS = ("tensorflow", "jax")
DISTRIBUTIONS = ("none", "data_parallel")
AUGMENT_ON = ("host", "device")
MONITORS = ("val_loss", "val_accuracy")
CPU_ISAS = ("avx2", "native")


@dataclass(frozen=True)
class Rule:
    """What one key accepts: `accepts(value)` is true for a valid value, described by `expected`."""

    accepts: Callable[[Any], bool]
    expected: str


def _is_integer(value: Any) -> bool:
    # YAML's `true` is a Python bool, which is an int subclass; it is never a count.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    # Infinity and NaN pass every comparison test wrongly or not at all; no setting takes them.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def integer(minimum: int, maximum: int | None = None) -> Rule:
    """An integer from `minimum` to `maximum` (booleans excluded)."""
    if maximum is None:
        return Rule(lambda value: _is_integer(value) and value >= minimum, f"an integer >= {minimum}")
    return Rule(
        lambda value: _is_integer(value) and minimum <= value <= maximum,
        f"an integer from {minimum} to {maximum}",
    )


def one_of(*choices: str) -> Rule:
    """One of the strings `choices`."""
    return Rule(lambda value: value in choices, "one of " + ", ".join(choices))


def boolean() -> Rule:
    """true or false."""
    return Rule(lambda value: isinstance(value, bool), "true or false")


def either(first: Rule, second: Rule) -> Rule:
    """A value that `first` or `second` accepts."""
    return Rule(lambda value: first.accepts(value) or second.accepts(value), f"{first.expected} or {second.expected}")


def optional(rule: Rule) -> Rule:
    """`rule`, or null."""
    return Rule(lambda value: value is None or rule.accepts(value), f"null or {rule.expected}")


def open_interval(low: float, high: float) -> Rule:
    """A number strictly between `low` and `high`."""
    return Rule(lambda value: _is_number(value) and low < value < high, f"a number strictly between {low} and {high}")


def half_open_interval(low: float, high: float) -> Rule:
    """A number from `low` up to, but not including, `high`."""
    return Rule(
        lambda value: _is_number(value) and low <= value < high, f"a number from {low} up to (not including) {high}"
    )


def positive_number() -> Rule:
    """A finite number above zero."""
    return Rule(lambda value: _is_number(value) and value > 0, "a finite number > 0")


def non_negative_number() -> Rule:
    """A finite number of zero or more."""
    return Rule(lambda value: _is_number(value) and value >= 0, "a finite number >= 0")


SCHEMA: dict[str, dict[str, Rule]] = {
    # NumPy's and Keras's seeds are unsigned 32-bit integers.
    "base": {"seed": integer(0, 2**32 - 1)},
    # The mirrors and checksums are in data/sources.yaml, which fashion_mnist/sources.py checks.
    "download": {
        "idle_timeout_seconds": positive_number(),
        "minimum_rate_kb_per_second": positive_number(),
        "deadline_floor_seconds": positive_number(),
    },
    "preprocess": {"max_train_samples": optional(integer(10))},
    "model": {"name": one_of(*MODEL_NAMES), "test_time_augmentation": one_of(*TEST_TIME_AUGMENTATIONS)},
    "train": {
        "epochs": integer(1),
        "batch_size": integer(1),
        "learning_rate": positive_number(),
        "optimizer": one_of(*OPTIMIZERS),
        "schedule": one_of(*SCHEDULES),
        "weight_decay": non_negative_number(),
        "label_smoothing": half_open_interval(0, 1),
        "ema_momentum": optional(open_interval(0, 1)),
        "augment": boolean(),
        "augment_on": one_of(*AUGMENT_ON),
        "precision": one_of(*PRECISIONS),
        "backend": one_of(*BACKENDS),
        "validation_split": open_interval(0, 1),
        "monitor": one_of(*MONITORS),
        "early_stopping_patience": optional(integer(1)),
        "cpu_isa": one_of(*CPU_ISAS),
        "distribution": one_of(*DISTRIBUTIONS),
    },
    "final": {"epochs": either(one_of("auto"), integer(1))},
    "export": {"calibration_images": integer(1)},
}


def read_yaml(path: Path, *, error: type[Exception], what: str) -> Any:
    """The YAML 1.2 document in `path`, or `error` naming the file: missing (`what` it holds) or malformed."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise error(f"{path}: file not found; {what}") from None
    try:
        # YAML 1.2, as DVC reads and writes params.yaml: `1e-3` is a number, as `dvc exp run -S` means it.
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{path}: not valid YAML{where}: {getattr(problem, 'problem', None) or problem}") from None


def load_params(sections: Iterable[str], path: Path = PARAMS_FILE) -> dict[str, dict[str, Any]]:
    """Return the named sections of the params file, each key checked against SCHEMA.

    Values come back exactly as written, never filled in or converted: this module decides whether a stage
    runs, never what it computes, which is why dvc.yaml leaves it out of the stages' deps.
    """
    path = Path(path)
    document = read_yaml(path, error=ParamsError, what="the pipeline's settings live there")
    if not isinstance(document, dict):
        raise ParamsError(
            f"{path}: expected a mapping of sections ({', '.join(SCHEMA)}), got {type(document).__name__}"
        )
    unknown_sections = sorted(set(document) - set(SCHEMA))
    if unknown_sections:
        raise ParamsError(f"{path}: unknown section {unknown_sections[0]!r}; expected one of {', '.join(SCHEMA)}")
    return {section: _check_section(path, section, document.get(section)) for section in sections}


def _check_section(path: Path, section: str, values: Any) -> dict[str, Any]:
    rules = SCHEMA[section]
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: section {section!r} must be a mapping with keys {', '.join(rules)}")
    for key in values:
        if key not in rules:
            raise ParamsError(f"{path}: unknown key {section}.{key}; expected one of {', '.join(rules)}")
    for key, rule in rules.items():
        if key not in values:
            raise ParamsError(f"{path}: missing key {section}.{key} ({rule.expected})")
        if not rule.accepts(values[key]):
            raise ParamsError(f"{path}: {section}.{key} must be {rule.expected}, got {values[key]!r}")
    return dict(values)
