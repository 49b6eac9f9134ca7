"""The import direction of ../shared/DESIGN.md, checked on the source of every module.

    facegen.errors  <-  facegen.user_input  <-  landmark_specs  <-  generator  <-  loaders  <-  trainer  <-  cli.py

A module may import its own layer and the layers to its left, never one to its right. Within
generator, only ``generator/backends/`` imports bpy, pyrender or OpenGL; loaders reach into the
generator only for the shard format (and its atomic writes); the trainer never imports a backend.
Imports inside functions count too: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("errors", "user_input", "landmark_specs", "generator", "loaders", "trainer", "cli")  # left to right
RENDER_LIBS = ("bpy", "pyrender", "OpenGL")
LOADERS_MAY_USE = ("facegen.generator.shard_format", "facegen.generator.atomic_write")


def _layer(rel: Path) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _modules() -> list[Path]:
    paths = [p for p in (ROOT / "cli.py", ROOT / "errors.py", ROOT / "user_input.py") if p.exists()]
    for top in ORDER[1:-1]:
        paths += sorted((ROOT / top).rglob("*.py"))
    return paths


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import statement in a file (relative ones made absolute)."""
    rel = path.relative_to(ROOT)
    package = ["facegen", *rel.parts[:-1]]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            if mod == "facegen" or mod.endswith((".generator", ".loaders", ".trainer", ".landmark_specs")):
                out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]  # from a package: its modules
            else:
                out.append((node.lineno, mod))
    return out


def layer_violations() -> list[str]:
    problems = []
    for path in _modules():
        rel = path.relative_to(ROOT)
        layer = _layer(rel)
        in_backends = rel.parts[:2] == ("generator", "backends")
        for line, mod in _imports(path):
            where = f"{rel}:{line}: imports {mod}"
            top = mod.split(".")[0]
            if top in RENDER_LIBS and not in_backends:
                problems.append(f"{where} (render libraries only in generator/backends/)")
            if top == "torch" and layer not in ("loaders", "trainer"):
                problems.append(f"{where} (torch only in loaders/ and trainer/)")
            if top != "facegen":
                continue
            parts = mod.split(".")
            target = parts[1] if len(parts) > 1 else "facegen"
            if target == "facegen" or target not in ORDER:
                problems.append(f"{where} (import a module, not the package root)")
                continue
            if ORDER.index(target) > ORDER.index(layer):
                problems.append(f"{where} ({layer} is left of {target})")
            if layer == "loaders" and target == "generator" and not mod.startswith(LOADERS_MAY_USE):
                problems.append(f"{where} (loaders use only the shard format of the generator)")
            if layer == "trainer" and mod.startswith("facegen.generator.backends"):
                problems.append(f"{where} (the trainer never imports a renderer backend)")
    return problems


def test_layers_point_one_way():
    assert layer_violations() == []


def test_the_checker_catches_a_wrong_way_import(tmp_path, monkeypatch):
    """The check itself can fail: a generator module importing the trainer is reported."""
    fake = tmp_path / "generator" / "x.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from facegen.trainer.train import train\n    import bpy\n")
    (tmp_path / "cli.py").write_text("")
    (tmp_path / "errors.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = layer_violations()
    assert any("generator/x.py:2" in p and "left of trainer" in p for p in found), found
    assert any("generator/x.py:3" in p and "render libraries" in p for p in found), found


@pytest.mark.parametrize("module", ["facegen", "facegen.cli", "facegen.generator.runner", "facegen.generator.backends"])
def test_import_pulls_no_torch_or_renderer(module):
    code = (f"import sys, {module}; import facegen.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('torch', 'bpy', 'pyrender', 'OpenGL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
