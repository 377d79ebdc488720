"""JSON-schema validation with defaults and messages that name the key."""
from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import ConfigError

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


#: keys renamed since a release, so an old config's error says what to write instead
RENAMED = {"pseudobulk_chunk": "cell_chunk"}


@cache
def load_schema(name: str) -> dict:
    """Load ``workflow/schemas/<name>.schema.yaml``."""
    with open(SCHEMA_DIR / f"{name}.schema.yaml") as fh:
        return yaml.safe_load(fh)


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft7Validator)


def _yaml_exponent_text(error: jsonschema.ValidationError) -> bool:
    """A number refused as text because YAML 1.1 (PyYAML) reads ``1e-50`` as a string, not a float."""
    expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
    return (error.validator == "type" and "number" in expected and isinstance(error.instance, str)
            and re.fullmatch(r"[-+]?[0-9]+[eE][-+]?[0-9]+", error.instance) is not None)


def _key_path(error: jsonschema.ValidationError, prefix: str) -> str:
    parts = [prefix] if prefix else []
    parts += [str(p) for p in error.absolute_path]
    return ".".join(parts) or "(top level)"


def validate(instance: Any, schema_name: str, source: str, prefix: str = "") -> Any:
    """Validate ``instance`` in place (filling defaults) against a schema.

    Parameters
    ----------
    instance
        Parsed YAML (dict) to check; defaults are written into it.
    schema_name
        Base name of the schema file in ``workflow/schemas``.
    source
        File the instance came from, named in the error message.
    prefix
        Key path of ``instance`` inside ``source`` (for nested blocks).

    Raises
    ------
    ConfigError
        Listing every violation as ``<file>: key '<path>': <reason>``.
    """
    validator = _Validator(load_schema(schema_name))
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = []
        for err in errors:
            reason = err.message
            if err.validator == "additionalProperties":
                reason = f"{err.message} (allowed keys: {', '.join(sorted(err.schema.get('properties', {})))})"
                reason += "".join(f"; {old!r} is now {new!r}" for old, new in RENAMED.items() if old in err.instance)
            elif _yaml_exponent_text(err):
                mantissa, _, exponent = err.instance.lower().partition("e")
                reason = (f"{err.message} (YAML reads a number with an exponent but no decimal point as text: "
                          f"write {mantissa}.0e{exponent})")
            lines.append(f"{source}: key '{_key_path(err, prefix)}': {reason}")
        raise ConfigError("invalid configuration\n  " + "\n  ".join(lines))
    return instance
