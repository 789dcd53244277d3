#!/usr/bin/env bash
# A user's install of the library, timed: a fresh venv, torch first, then a plain `pip install .`
# (build isolation, dependencies resolved from the package index), `pip check`, and
# examples/quickstart.py run from outside the repository. tests/test_package.py does the same
# with the project venv's packages and no download, within CI time; this is the real thing.
#
#   bash bench/fresh_install.sh                    # torch==2.13.0 as pip resolves it here
#   TORCH_INDEX=https://download.pytorch.org/whl/cpu bash bench/fresh_install.sh   # the CPU build
#
# Needs network access to the package index (and to TORCH_INDEX when set). Prints the seconds of
# each step; the venv is made in a temporary folder and removed at the end (KEEP=1 keeps it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
WORK="$(mktemp -d -t rvae-fresh-install-XXXXXX)"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
# build from a copy: an in-tree build would leave build/ and an egg-info in the checkout
mkdir -p "$WORK/source/workflow/scripts"
cp "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/LICENSE" "$WORK/source/"
cp -r "$ROOT/workflow/scripts/rvae_pathways" "$WORK/source/workflow/scripts/"
find "$WORK/source" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +

step() {  # step NAME COMMAND...: run it, print its seconds
    local name="$1" start=$SECONDS
    shift
    "$@"
    echo "$name: $((SECONDS - start)) s"
}
total=$SECONDS
step "venv" "$PYTHON" -m venv "$WORK/venv"
PIP=("$WORK/venv/bin/python" -m pip --quiet --disable-pip-version-check)
if [ -n "${TORCH_INDEX:-}" ]; then
    step "pip install $TORCH_SPEC ($TORCH_INDEX)" "${PIP[@]}" install "$TORCH_SPEC" --index-url "$TORCH_INDEX"
else
    step "pip install $TORCH_SPEC" "${PIP[@]}" install "$TORCH_SPEC"
fi
step "pip install . (non-editable, from a copy)" "${PIP[@]}" install "$WORK/source"
step "pip check" "${PIP[@]}" check
echo "install total: $((SECONDS - total)) s"
# what the resolver picked for each declared dependency, and where the package landed
"$WORK/venv/bin/python" - <<'PY'
import importlib.metadata as md
import rvae_pathways as rp
from packaging.requirements import Requirement
names = [Requirement(r).name for r in md.requires("rvae-pathways") if "extra ==" not in r] + ["torch"]
print("resolved:", ", ".join(f"{n} {md.version(n)}" for n in names))
print("rvae_pathways", rp.__version__, "from", rp.__file__)
PY
cd "$WORK"
step "quickstart" "$WORK/venv/bin/python" "$ROOT/examples/quickstart.py" --out "$WORK/quick"
