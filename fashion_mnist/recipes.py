"""Named recipes (recipes.yaml): sets of params that belong together, applied with `dvc exp run -S`."""

import argparse
from pathlib import Path
from typing import Any

from fashion_mnist.errors import ParamsError
from fashion_mnist.params import SCHEMA, read_yaml
from fashion_mnist.paths import RECIPES_FILE


def load_recipes(path: Path = RECIPES_FILE) -> dict[str, dict[str, Any]]:
    """Each recipe's params, by name, every key and value checked against params.yaml's rules."""
    document = read_yaml(path, error=ParamsError, what="it names the recipes")
    if not isinstance(document, dict) or not document:
        raise ParamsError(f"{path}: expected a mapping of recipe names to their description and params")
    recipes = {}
    for name, recipe in document.items():
        params = recipe.get("params") if isinstance(recipe, dict) else None
        if not isinstance(params, dict) or not params:
            raise ParamsError(f"{path}: recipe {name!r} needs a mapping `params` of section.key: value")
        for key, value in params.items():
            check_setting(str(key), value, f"{path}: recipe {name!r}")
        recipes[name] = params
    return recipes


def recipe_named(name: str, path: Path = RECIPES_FILE) -> dict[str, Any]:
    """Recipe `name`'s params, or a ParamsError that lists the recipes there are."""
    recipes = load_recipes(path)
    if name not in recipes:
        raise ParamsError(f"no recipe {name!r} in {path.name}; it has {', '.join(recipes)}")
    return recipes[name]


def check_setting(key: str, value: Any, where: str) -> None:
    """Refuse `key: value` unless params.yaml has the key and its rule accepts the value; `where` names the source."""
    section, _, setting = key.partition(".")
    rule = SCHEMA.get(section, {}).get(setting)
    if rule is None:
        raise ParamsError(f"{where} sets {key!r}, which is no key of params.yaml")
    if not rule.accepts(value):
        raise ParamsError(f"{where} sets {key} to {value!r}; it must be {rule.expected}")


def apply_recipe(sections: dict[str, dict[str, Any]], recipe: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`sections` of params.yaml with `recipe`'s values set, as `dvc exp run -S` would set them; copies."""
    applied = {name: dict(values) for name, values in sections.items()}
    for key, value in recipe.items():
        section, _, setting = key.partition(".")
        applied[section][setting] = value
    return applied


def set_param_flags(params: dict[str, Any]) -> list[str]:
    """`dvc exp run`'s flags that set `params`; YAML's spelling of each value, as DVC parses it."""

    def spelled(value: Any) -> str:
        if value is None:
            return "null"
        return str(value).lower() if isinstance(value, bool) else str(value)

    return [flag for key, value in params.items() for flag in ("-S", f"{key}={spelled(value)}")]


def main(arguments: list[str] | None = None, prog: str | None = None) -> None:
    """Print the `-S` flags of one recipe, for `dvc exp run -n NAME $(fashion-mnist recipe NAME)`."""
    recipes = load_recipes()
    parser = argparse.ArgumentParser(prog=prog, description=main.__doc__)
    parser.add_argument("name", choices=sorted(recipes), help="the recipe, from recipes.yaml")
    name = parser.parse_args(arguments).name
    print(" ".join(set_param_flags(recipes[name])))
