"""Bad landmark specs: one line naming file and key (or line), never a traceback, MemoryError or
hang. Explicit cases for every example of issue 16, then hypothesis on the YAML text of a
shipped spec (characters inserted, deleted, replaced) read by the spec loader."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from facegen.cli import main
from facegen.landmark_specs.spec_file import (MAX_ANCHORS, MAX_INCLUDE_DEPTH, MAX_LANDMARKS, MAX_SILHOUETTE, SHIPPED_DIR,
                                              SpecError, load_spec_definition)

ANCHORS = "anchors: [{vertex: 1}, {vertex: 2}]"


def _write(tmp_path, text: str | bytes, name: str = "s.yaml"):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


def _one_line(tmp_path, text, fragment: str, name: str = "s.yaml") -> str:
    p = _write(tmp_path, text, name)
    with pytest.raises(SpecError) as info:
        load_spec_definition(p)
    message = str(info.value)
    assert "\n" not in message and fragment in message, message
    return message


@pytest.mark.parametrize("text, fragment", [
    (f"groups: {{a: {{{ANCHORS}, count: 9223372036854775808}}}}", f"groups.a.count: count must be >= 2 and <= {MAX_LANDMARKS}"),
    (f"groups: {{a: {{{ANCHORS}, count: 100000}}}}", "groups.a.count: count must be >= 2 and <= 10000"),
    (f"groups: {{a: {{{ANCHORS}, count: 6000}}, b: {{{ANCHORS}, count: 6000}}}}", "groups: 12000 landmarks in all"),
    (f"groups: {{a: {{{ANCHORS}, count: 900, silhouette: true}}, b: {{mirror: a}}, "
     f"c: {{{ANCHORS}, count: 200, silhouette: true}}}}", f"1100 silhouette landmarks in all; a spec has at most {MAX_SILHOUETTE}"),
    ("groups: {a: {points: [{vertex: 1, name: \"ok\\n\"}]}}", "groups.a.points[0].name: a name is"),
    ("groups: {\"a\\n\": {points: [1]}}", "a group name is"),
    ("groups: {a: {points: [1]}}\nname: \"\\ud800\"\n", "s.yaml: name: a string holds a lone surrogate"),
    ("groups: {\"\\ud800\": {points: [1]}}", "a string holds a lone surrogate"),
    ("groups: {a: {points: [1]}}\nname: \"bad name\"\n", "is not a usable spec name"),
    ("groups: {a: {points: [{triangle: 1, bary: [1e400, 0, 0]}]}}", "bary must be a list of 3 finite numbers"),
    (f"groups: {{a: {{points: [{{triangle: 1, bary: [{10 ** 400}, 0, 0]}}]}}}}", "bary must be a list of 3 finite"),
    ("groups: {a: {points: [{vertex: 99999999999999999999}]}}", "vertex id must be an integer in [0,"),
    ("groups: {a: {region: face_skin, count: 3, box: {x: [-1e300, 1e300]}}}", "groups.a.box.x: must be [low, high]"),
    ("groups: {a: {anchors: [" + ", ".join(["1"] * (MAX_ANCHORS + 1)) + "], count: 9}}", "at most 256 anchors"),
    ("include: [" + "x" * 300 + ".yaml]\ngroups: {a: {points: [1]}}", "include[0]: 'xxx"),
    ("include: [\"a\\nb.yaml\"]\ngroups: {a: {points: [1]}}", "control character \\n"),
    ("include: [\"a\\0b.yaml\"]\ngroups: {a: {points: [1]}}", "control character \\x00"),
    ("groups: " + "[" * 500 + "]" * 500, "line 1: YAML syntax error: nested deeper than 32 levels"),
    (b"groups: {a: {points: [1]}}\nname: \xff\n", "line 2: not UTF-8 text (byte 0xff)"),
])
def test_issue_examples_are_one_line(tmp_path, text, fragment):
    start = time.perf_counter()
    _one_line(tmp_path, text, fragment)
    assert time.perf_counter() - start < 5  # no MemoryError, no hang: refused before any work


def test_include_nesting_is_bounded(tmp_path):
    for i in range(40):
        _write(tmp_path, f"include: [f{i + 1}.yaml]\n" if i < 39 else "groups: {a: {points: [1]}}\n", f"f{i}.yaml")
    message = _one_line(tmp_path, "include: [f0.yaml]\n", f"includes nested deeper than {MAX_INCLUDE_DEPTH} files")
    assert message.startswith(str((tmp_path / f"f{MAX_INCLUDE_DEPTH - 2}.yaml").resolve()))  # s.yaml, f0 .. f14: 16 files


def test_cli_spec_arguments_are_one_line(tmp_path, capsys):
    for arg in ("x" * 300, "a\nb.yaml", str(tmp_path), "/dev/zero"):
        assert main(["spec", "validate", arg]) == 2
        err = capsys.readouterr().err
        assert err.startswith("facegen: error: ") and err.count("\n") == 1, err


def test_a_spec_at_the_landmark_maximum_resolves(model):
    """The flip-partner search works in blocks: 10,000 landmarks need ~100 MB, not K x K x 3 floats."""
    from facegen.landmark_specs.resolve import FLIP_CHUNK, _distances

    import numpy as np
    pts = np.random.default_rng(0).normal(size=(MAX_LANDMARKS, 3))
    rows = max(1, FLIP_CHUNK // MAX_LANDMARKS)
    assert rows * MAX_LANDMARKS * 8 <= 64 * 2 ** 20  # one (rows, K) float64 block
    np.testing.assert_array_equal(_distances(pts[:5], pts), np.linalg.norm(pts[:5, None] - pts[None], axis=2))


_SPEC68 = (SHIPPED_DIR / "68.yaml").read_text(encoding="utf-8")
_EDIT = st.tuples(st.integers(0, len(_SPEC68)), st.integers(0, 12),
                  st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12))


@given(edits=st.lists(_EDIT, min_size=1, max_size=4))
def test_fuzz_edited_spec_text(tmp_path, edits):
    """Characters of the 68-point spec replaced at random: read, or refused with one line."""
    text = _SPEC68
    for at, cut, insert in edits:
        text = text[:at] + insert + text[at + cut:]
    p = _write(tmp_path, text, "fuzz.yaml")
    try:
        load_spec_definition(p)
    except SpecError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(str(p.resolve())), message


@given(number=st.one_of(st.integers(-10 ** 30, 10 ** 30), st.floats(), st.sampled_from(["1e400", ".nan", "1.0e+300"])),
       key=st.sampled_from(["count", "vertex", "triangle", "bary", "box"]))
def test_fuzz_numbers_in_spec_fields(tmp_path, number, key):
    value = {"count": f"{{{ANCHORS}, count: {number}}}", "vertex": f"{{points: [{{vertex: {number}}}]}}",
             "triangle": f"{{points: [{{triangle: {number}, bary: [1, 0, 0]}}]}}",
             "bary": f"{{points: [{{triangle: 1, bary: [{number}, 0, 0]}}]}}",
             "box": f"{{region: face_skin, count: 3, box: {{z: [0, {number}]}}}}"}[key]
    p = _write(tmp_path, f"groups: {{a: {value}}}\n")
    try:
        load_spec_definition(p)
    except SpecError as exc:
        assert "\n" not in str(exc) and "groups.a" in str(exc), str(exc)
