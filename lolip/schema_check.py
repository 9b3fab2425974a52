"""A config checked against the workflow's schema (:mod:`lolip.schema`), in words.

:func:`validate` checks a config against the schema when the workflow loads and names the
first problem by its place in the config (``datasets.digits.training.lr``), the value
found and what was expected, with a hint where YAML read a number as text (``1e-3``).
"""

from __future__ import annotations

from typing import Any

from lolip.bounds import check_keys, describe_value


def _place(path: Any) -> str:
    return ".".join(str(p) for p in path) or "the config"


def validate(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Raise ValueError naming the config's first problem (its place, value, expectation)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    place = _place(error.absolute_path)
    if error.validator == "additionalProperties" and "properties" in error.schema:
        check_keys(place, error.instance, list(error.schema["properties"]))
    if error.validator == "required":
        raise ValueError(f"{place}: {error.message}")
    raise ValueError(
        f"{place}: got {describe_value(error.instance)}; expected {_expected(error.schema)}"
    )


_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}
_LIMITS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def _expected(fragment: dict[str, Any]) -> str:
    """A schema fragment in words: ``a number > 0``, ``one of 'sgd', 'adam'``."""
    if "enum" in fragment:
        return "one of " + ", ".join(map(repr, fragment["enum"]))
    if "const" in fragment:
        return repr(fragment["const"])
    types = fragment.get("type", [])
    types = types if isinstance(types, list) else [types]
    words = " or ".join(_WORDS.get(t, str(t)) for t in types) or "a valid value"
    limits = [f"{op} {fragment[key]}" for key, op in _LIMITS.items() if key in fragment]
    if "pattern" in fragment:
        limits.append(f"matching {fragment['pattern']}")
    return " ".join([words, " and ".join(limits)]).strip()
