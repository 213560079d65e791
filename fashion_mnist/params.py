"""Read and validate params.yaml, so a bad value stops a stage with an error naming its key."""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fashion_mnist.errors import ParamsError
from fashion_mnist.paths import PARAMS_FILE


@dataclass(frozen=True)
class Rule:
    """What one key accepts: `accepts(value)` is true for a valid value, described by `expected`."""

    accepts: Callable[[Any], bool]
    expected: str


def _is_integer(value: Any) -> bool:
    # YAML's `true` is a Python bool, which is an int subclass; it is never a count.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float))) and not isinstance(value, bool)


def integer(minimum: int) -> Rule:
    """An integer no smaller than `minimum` (booleans excluded)."""
    return Rule(lambda value: _is_integer(value) and value >= minimum, f"an integer >= {minimum}")


def optional(rule: Rule) -> Rule:
    """`rule`, or null."""
    return Rule(lambda value: value is None or rule.accepts(value), f"null or {rule.expected}")


def open_interval(low: float, high: float) -> Rule:
    """A number strictly between `low` and `high`."""
    return Rule(lambda value: _is_number(value) and low < value < high, f"a number strictly between {low} and {high}")


def positive_number() -> Rule:
    """A number above zero."""
    return Rule(lambda value: _is_number(value) and value > 0, "a number > 0")


def url_list() -> Rule:
    """A non-empty list of URLs."""
    return Rule(
        lambda value: (
            isinstance(value, list) and len(value) > 0 and all(isinstance(url, str) and "://" in url for url in value)
        ),
        "a non-empty list of base URLs (http://, https:// or file://)",
    )


def checksum_map() -> Rule:
    """A mapping of file names to SHA-256 digests."""
    sha256 = re.compile(r"[0-9a-f]{64}")
    return Rule(
        lambda value: (
            isinstance(value, dict)
            and len(value) > 0
            and all(
                isinstance(name, str) and isinstance(digest, str) and sha256.fullmatch(digest)
                for name, digest in value.items()
            )
        ),
        "a mapping of file name to the SHA-256 (64 lowercase hex digits) of its decompressed content",
    )


SCHEMA: dict[str, dict[str, Rule]] = {
    "base": {"seed": integer(0)},
    "download": {"mirrors": url_list(), "timeout_seconds": positive_number(), "files": checksum_map()},
    "preprocess": {"max_train_samples": optional(integer(10))},
    "train": {
        "epochs": integer(1),
        "batch_size": integer(1),
        "learning_rate": positive_number(),
        "validation_split": open_interval(0, 1),
    },
    "final": {"epochs": optional(integer(1))},
}


def load_params(sections: Iterable[str], path: Path = PARAMS_FILE) -> dict[str, dict[str, Any]]:
    """Return the named sections of the params file, each key checked against SCHEMA."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found; the pipeline's settings live there") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ParamsError(f"{path}: not valid YAML{where}: {problem}") from None
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
