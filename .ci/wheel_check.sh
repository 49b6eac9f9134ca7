#!/usr/bin/env bash
# CI wheel job: build facegen's wheel, install it (not editable) into a fresh virtual environment
# with what the raster renderer, the loaders and the trainer need (the `raster` and `torch`
# extras; no Blender), and run the console script from a folder outside the checkout, where only
# what the wheel holds can be imported (the shipped landmark model included). Fails on a module or
# data file missing from the wheel, on any `ERROR:` line from pip, and on `pip check`.
# Run alone: bash .ci/wheel_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== wheel job: build =="
# Build from a copy of the files git sees (tracked and not ignored), as in a clean clone: a stale
# build/ in the checkout cannot then hide a file the wheel misses.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -C "$work/src" -xf -
python3 -m venv "$work/venv"
. "$work/venv/bin/activate"
pip wheel --no-deps -q -w "$work/dist" "$work/src"
wheel=$(echo "$work"/dist/facegen-*.whl)
echo "built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)"

echo "== wheel job: install =="
if ! pip install -c "$repo/.ci/constraints.txt" "$wheel[raster,torch]" >"$work/pip.log" 2>&1; then
  cat "$work/pip.log"; echo "wheel job: pip install failed"; exit 1
fi
grep -E "^(Successfully installed|ERROR|WARNING: facegen)|requires|incompatible" "$work/pip.log" || true
if grep -q "^ERROR" "$work/pip.log"; then echo "wheel job: pip printed an ERROR line"; exit 1; fi
pip check

echo "== wheel job: run from outside the checkout =="
run=$(mktemp -d)
trap 'rm -rf "$work" "$run"' EXIT
cd "$run"
python - "$repo" <<'PY'
import sys, facegen
assert not facegen.__file__.startswith(sys.argv[1] + "/"), f"facegen imported from the checkout: {facegen.__file__}"
print("facegen from", facegen.__file__)
PY
facegen render --renderer raster --num 2 --spec 68 --out ds --quiet
facegen spec show 68 --out s.png
facegen view ds --out v.png
python -c "import facegen.loaders, facegen.trainer"
# the shipped landmark model loads from the installed package (a given box: dlib is not installed here)
facegen predict v.png --box 10,10,120,130 --out pred
test -s ds/manifest.json && test -s s.png && test -s v.png && test -s pred/v_face0.pts && test -s pred/v_face0.json
echo "== wheel job done in $(( $(date +%s) - start )) s =="
