"""The library as a user gets it: its public API, its declared dependencies, a plain install.

The install test comes as close to ``pip install .`` into a fresh venv as CI time allows: a new
venv whose third-party packages are the project venv's (a ``.pth`` line: nothing is downloaded,
and torch is the CPU build), the project installed into it *not* editable from a copy of the
source, then ``examples/quickstart.py`` run from outside the repository with that venv's python.
``bench/fresh_install.sh`` does the real thing (torch, then ``pip install .`` from the indexes).
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import rvae_pathways
from conftest import ROOT
from source_imports import imported_modules

LIBRARY = ROOT / "workflow" / "scripts" / "rvae_pathways"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
HEAVY = ("numpy", "scipy", "xarray", "zarr", "torch", "matplotlib", "pandas", "sklearn", "yaml")


def requirements(extra: str | None = None) -> list[Requirement]:
    listed = PYPROJECT["dependencies"] if extra is None else PYPROJECT["optional-dependencies"][extra]
    return [Requirement(r) for r in listed]


def pins() -> dict[str, str]:
    """requirements.txt: normalised name -> pinned version."""
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            out[canonical(req.name)] = str(next(iter(req.specifier)).version)
    return out


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


# ---------------------------------------------------------------------------------------------
# the public API


def test_importing_the_package_imports_nothing_heavy():
    code = f"import sys, rvae_pathways; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_every_public_name_resolves_and_is_listed():
    names = [n for n in rvae_pathways.__all__ if n != "__version__"]
    assert len(names) == len(set(names))
    for name in names:
        value = getattr(rvae_pathways, name)
        assert callable(value), name
        assert value.__module__.startswith("rvae_pathways."), name
        assert getattr(value, "__doc__", None), f"{name} has no docstring"
    assert set(rvae_pathways.__all__) <= set(dir(rvae_pathways))
    assert {"stem", "rvae", "scores"} <= set(dir(rvae_pathways))
    assert rvae_pathways.stem.atoms.find_atoms is rvae_pathways.find_atoms
    with pytest.raises(AttributeError, match="no attribute 'find_atom'"):
        rvae_pathways.find_atom  # noqa: B018


def test_without_torch_only_the_model_functions_are_missing():
    code = ("import sys; sys.modules['torch'] = None; import rvae_pathways as rp; rp.find_atoms; rp.read_frames\n"
            "try:\n    rp.fit\nexcept ModuleNotFoundError as e:\n    print(e)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rvae_pathways.fit needs PyTorch" in result.stdout and "download.pytorch.org/whl/cpu" in result.stdout


def test_the_quickstart_uses_only_the_public_api():
    path = ROOT / "examples" / "quickstart.py"
    assert {m for m in imported_modules(path) if m.startswith("rvae_pathways")} == {"rvae_pathways"}
    used = {node.attr for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "rp"}
    assert len(used) > 10
    assert used <= set(rvae_pathways.__all__), sorted(used - set(rvae_pathways.__all__))


# ---------------------------------------------------------------------------------------------
# the declared dependencies


def test_the_pinned_versions_satisfy_the_declared_ranges():
    pinned, wrong = pins(), []
    for extra in (None, "torch", "workflow"):
        for req in requirements(extra):
            version = pinned.get(canonical(req.name))
            if version is None or not req.specifier.contains(version, prereleases=True):
                wrong.append(f"{req} (requirements.txt: {version})")
    assert not wrong, wrong
    assert "torch" not in {canonical(r.name) for r in requirements()}, "torch is the user's choice of build"


def test_every_third_party_import_of_the_library_is_declared():
    declared = {canonical(r.name) for r in requirements()}
    allowed = {
        "torch": {"torch"},  # documented: install the CPU or CUDA build first, or the `torch` extra
        # the abTEM corpus generator (sim/physics*): the `physics` extra, and dask, abTEM's own engine
        "physics": {canonical(r.name) for r in requirements("physics")} | {"dask"},
    }
    dists = md.packages_distributions()
    missing = []
    for path in LIBRARY.rglob("*.py"):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in ("__future__", "rvae_pathways"):
                continue
            names = {canonical(d) for d in dists.get(top, [top])}
            ok = names & (declared | allowed["torch"])
            if path.name.startswith("physics"):
                ok = ok or names & allowed["physics"]
            if not ok:
                missing.append(f"{path.relative_to(LIBRARY)}: {top}")
    assert not missing, missing


# ---------------------------------------------------------------------------------------------
# a non-editable install into a fresh venv, and the quickstart from outside the repository

CHECK = """
import importlib.metadata as md, json, sys
from packaging.requirements import Requirement
import rvae_pathways
dist = md.distribution("rvae-pathways")
unmet = []
for line in dist.requires or []:
    req = Requirement(line)
    extras = [e for e in ("torch", "workflow") if req.marker and req.marker.evaluate({"extra": e})]
    if req.marker and not extras and not req.marker.evaluate({"extra": ""}):
        continue  # the physics extra: not installed on purpose
    try:
        version = md.version(req.name)
    except md.PackageNotFoundError:
        unmet.append(line + ": not installed")
        continue
    if not req.specifier.contains(version, prereleases=True):
        unmet.append(f"{line}: {version}")
print(json.dumps({"file": rvae_pathways.__file__, "version": dist.version, "unmet": unmet,
                  "files": [str(f) for f in dist.files or []], "origin": dist.read_text("direct_url.json")}))
"""


def purelib(python) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         capture_output=True, text=True, check=True, timeout=60)
    return Path(out.stdout.strip())


@pytest.fixture(scope="module")
def fresh_install(tmp_path_factory):
    """A fresh venv with the project installed non-editable (the deps: the project venv's)."""
    tmp = tmp_path_factory.mktemp("fresh_install")
    source = tmp / "source"  # the files a build reads, so the checkout gets no build/ or egg-info
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(LIBRARY, source / "workflow" / "scripts" / "rvae_pathways",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    python = env / "bin" / "python"
    site = purelib(python)
    # third-party packages from the project venv, after the fresh venv's own site-packages; the
    # editable install's .pth there is not read (.pth files are read only in site directories)
    (site / "project_venv_packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", str(source)], check=True, timeout=300, cwd=tmp)
    return {"python": python, "site": site, "tmp": tmp}


def test_the_installed_package_is_the_copy_and_its_requirements_are_met(fresh_install):
    result = subprocess.run([str(fresh_install["python"]), "-c", CHECK], capture_output=True, text=True,
                            cwd=fresh_install["tmp"], timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout)
    assert Path(info["file"]).is_relative_to(fresh_install["site"]), info["file"]
    origin = json.loads(info["origin"])  # PEP 610: where pip installed it from, and how
    assert origin["url"].endswith("/source") and not origin["dir_info"].get("editable"), origin
    assert info["version"] == rvae_pathways.__version__
    assert not info["unmet"], info["unmet"]
    assert "rvae_pathways/core/schemas/config.schema.yaml" in info["files"]


def test_the_quickstart_runs_from_outside_the_repository(fresh_install):
    out = fresh_install["tmp"] / "quick"
    script = shutil.copy2(ROOT / "examples" / "quickstart.py", fresh_install["tmp"] / "quickstart.py")
    # a smaller movie and fewer epochs than the example's defaults: CI time; one torch thread,
    # as the test process (see conftest), for the cores the end-to-end runs share
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(fresh_install["python"]), str(script), "--out", str(out), "--frames", "4", "--size", "160",
         "--epochs", "2"], capture_output=True, text=True, cwd=fresh_install["tmp"], env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "done in" in result.stdout and "sublattice" in result.stdout
    scores = json.loads((out / "scores.json").read_text())
    assert scores["atoms"]["f1"] > 0.95 and scores["atoms"]["rmse_px"] < 1.0
    assert scores["n_patches"] > 200
    assert scores["si_vs_c_auc"] > 0.9  # Si is bright: any working chain separates it
    assert 0.5 <= scores["sublattice_from_theta"] <= 1.0
    assert (out / "latents.npz").exists()
