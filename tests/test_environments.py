"""The conda environments of the rules (envs/*.yaml) against the local install and the code.

`snakemake --software-deployment-method conda` runs each rule's script in the environment its
`conda:` names, so each environment must (1) pin the same versions as requirements.txt, which
the tests run with, and (2) provide every third-party package the script imports, directly or
through the rvae_pathways library.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from source_imports import imported_modules

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
LIBRARY = "rvae_pathways"
# conda-forge names of the PyPI distributions whose names differ
CONDA_NAME = {"torch": "pytorch"}


def pinned_requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[CONDA_NAME.get(name.lower(), name.lower())] = version
    return pins


def environment(path: Path) -> dict[str, str]:
    """Package -> pinned version of a conda environment file."""
    spec = yaml.safe_load(path.read_text())
    pins = {}
    for dependency in spec["dependencies"]:
        name, _, version = dependency.partition("=")
        pins[name.lower()] = version
    return pins


def rules_with_environments() -> list[tuple[str, Path, Path]]:
    """(rule, conda file, script) of every rule in workflow/rules/*.smk."""
    found = []
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":")[0]
            conda = re.search(r"conda:\s*\n\s*\"([^\"]+)\"", block)
            script = re.search(r"script:\s*\n\s*\"([^\"]+)\"", block)
            assert conda and script, f"rule {name} in {smk.name} needs conda: and script:"
            found.append((name, (smk.parent / conda.group(1)).resolve(), (smk.parent / script.group(1)).resolve()))
    return found


def third_party_imports(script: Path) -> set[str]:
    """Top-level third-party modules a script needs, following its imports into the library."""
    seen, todo, needed = set(), [script], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top == LIBRARY:
                parts = module.split(".")
                todo += [p for p in (SCRIPTS.joinpath(*parts).with_suffix(".py"),
                                     SCRIPTS.joinpath(*parts, "__init__.py")) if p.exists()]
                if len(parts) == 1:
                    todo.append(SCRIPTS / LIBRARY / "__init__.py")
            elif top not in sys.stdlib_module_names and top != "__future__":
                needed.add(top)
    return needed


ENVIRONMENTS = sorted((ROOT / "envs").glob("*.yaml"))
RULES = rules_with_environments()


def test_every_rule_has_an_environment_and_a_script():
    assert len(RULES) >= 13
    assert {conda for _, conda, _ in RULES} <= set(ENVIRONMENTS)


@pytest.mark.parametrize("path", ENVIRONMENTS, ids=lambda p: p.name)
def test_environment_pins_agree_with_requirements(path):
    requirements = pinned_requirements()
    pins = environment(path)
    assert pins.pop("python") == f"{sys.version_info.major}.{sys.version_info.minor}"
    for name, version in pins.items():
        assert name in requirements, f"{path.name}: {name} is not in requirements.txt"
        assert version == requirements[name], f"{path.name}: {name}={version}, requirements.txt has {requirements[name]}"


@pytest.mark.parametrize("rule, conda, script", RULES, ids=[rule for rule, _, _ in RULES])
def test_environment_provides_what_the_script_imports(rule, conda, script):
    distributions = packages_distributions()
    pins = environment(conda)
    for module in sorted(third_party_imports(script)):
        names = distributions.get(module)
        assert names, f"rule {rule}: {module} is imported but not installed here"
        assert any(CONDA_NAME.get(n.lower(), n.lower()) in pins for n in names), (
            f"rule {rule} imports {module} ({names[0]}), which {conda.name} lacks")


def test_the_import_tracer_follows_the_library():
    """The check above is only as good as the tracer: train_model reaches torch through the library."""
    needed = third_party_imports(SCRIPTS / "train_model.py")
    assert {"torch", "numpy", "xarray"} <= needed
    assert not needed & {"os", "json", LIBRARY}


def gpu_rules() -> set[str]:
    """Rules that ask for a GPU (``gpu=1``), and the rules made from them with ``use rule ... as``."""
    text = "\n".join(smk.read_text() for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")))
    found = {block.split(":")[0] for block in re.split(r"^rule ", text, flags=re.M)[1:]
             if re.search(r"^\s+gpu=1,", block.split("\nrule ")[0], flags=re.M)}
    for base, name in re.findall(r"^use rule (\w+) as (\w+)", text, flags=re.M):
        if base in found:
            found.add(name)
    return found


def test_every_rule_that_asks_for_a_gpu_goes_to_the_slurm_profiles_gpu_partition():
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    on_gpu = {rule for rule, settings in profile["set-resources"].items() if settings.get("slurm_partition") == "gpu"}
    assert {"train_model", "encode_patches", "train_seed_model", "train_pfm_model"} <= gpu_rules()
    assert gpu_rules() == on_gpu
