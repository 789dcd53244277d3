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
