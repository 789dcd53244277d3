"""The workflow's configuration schema: the one source of every default.

``schemas/config.schema.yaml`` gives every config key its type, its meaning and its default. The
workflow validates its config against it with the defaults filled in (``common.smk``), and the
library's keyword defaults are read from it here, so that a default is written once: deleting a
line from ``config.yaml`` gives the value the library would take, and changing a default means
changing the schema.

>>> defaults("atoms")["smooth"]
0.25
>>> defaults("rvae", "hyper")["restarts"]
3
"""

from __future__ import annotations

import copy
import difflib
from functools import lru_cache
from pathlib import Path

import yaml

SCHEMAS = Path(__file__).resolve().parent / "schemas"
CONFIG_SCHEMA = SCHEMAS / "config.schema.yaml"
SAMPLES_SCHEMA = SCHEMAS / "samples.schema.yaml"


@lru_cache(maxsize=None)
def _schema() -> dict:
    return yaml.safe_load(CONFIG_SCHEMA.read_text())


def _filled(node: dict):
    """The default of one schema node: its own, with an object's properties' defaults filled in."""
    value = copy.deepcopy(node.get("default"))
    if node.get("type") == "object" and "properties" in node:
        value = dict(value or {})
        for key, child in node["properties"].items():
            if key not in value and ("default" in child or "properties" in child):
                value[key] = _filled(child)
    return value


def defaults(*section: str) -> dict:
    """The defaults of one config section (``defaults("atoms")``, ``defaults("rvae", "hyper")``), or
    of the whole config without arguments: a new dict on every call, free to change."""
    node = _schema()
    for key in section:
        try:
            node = node["properties"][key]
        except KeyError:
            raise KeyError(f"the config schema has no section {'.'.join(section)!r}") from None
    return _filled(node)


def _nearest(name: str, valid) -> str:
    """``"; did you mean 'x'?"`` for the valid name closest to ``name`` (or the list of valid names)."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; valid: {', '.join(valid)}"


def unknown_keys(config: dict) -> list[str]:
    """One message per key of ``config`` the schema does not know, naming the nearest valid key.

    Sections whose schema admits extra keys (``additionalProperties: true``) are not looked into.
    """
    messages = []

    def walk(value, node, path):
        if not isinstance(value, dict) or node.get("type") != "object" or "properties" not in node:
            return
        known = node["properties"]
        for key, child in value.items():
            if key in known:
                walk(child, known[key], path + [key])
            elif node.get("additionalProperties") is False:
                where = ".".join(path + [str(key)])
                messages.append(f"unknown config key '{where}'{_nearest(str(key), known)}")

    walk(config, _schema(), [])
    return messages


def unknown_columns(columns) -> list[str]:
    """One message per column of the samples table the samples schema does not know."""
    known = yaml.safe_load(SAMPLES_SCHEMA.read_text())["properties"]
    return [f"unknown column '{name}'{_nearest(str(name), known)}" for name in columns if name not in known]
