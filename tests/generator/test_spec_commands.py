"""``facegen spec validate|show``: summaries, previews, and one-line errors for any malformed spec."""

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facegen.cli import main

BASE = {"name": "t", "groups": {
    "jaw": {"silhouette": True, "anchors": [2635, 783, 5158], "count": 5},
    "eye_right": {"anchors": [1973, 2644, 1077, 1070], "closed": True, "through": ["eyelids"], "count": 6},
    "eye_left": {"mirror": "eye_right"},
    "cheek_right": {"region": "face_skin", "box": {"x": [-0.06, -0.03]}, "count": 3},
    "cheek_left": {"mirror": "cheek_right"},
}, "ibug68": ["jaw", None]}


def test_validate_shipped_and_user_file(tmp_path, capsys):
    assert main(["spec", "validate", "68"]) == 0
    assert "68 landmarks" in capsys.readouterr().out
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump(BASE))
    assert main(["spec", "validate", str(p)]) == 0
    assert "ok" in capsys.readouterr().out


def test_show_writes_a_preview(tmp_path, capsys):
    out = tmp_path / "p.png"
    assert main(["spec", "show", "68", "--out", str(out), "--size", "128", "--labels"]) == 0
    img = np.asarray(Image.open(out))
    assert img.shape[1] >= 3 * 128 and img.std() > 10
    assert main(["spec", "show", "68", "--out", str(tmp_path / "no" / "p.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_error_is_one_line_exit_2(tmp_path, capsys):
    p = tmp_path / "bad.yaml"
    p.write_text("groups:\n  a: {anchors: [1, 2], count: 1}\n")
    assert main(["spec", "validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(p) in err and "groups.a.count" in err


junk = st.recursive(st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=True)
                    | st.text(max_size=8), lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c,
                                                                                                  max_size=3),
                    max_leaves=6)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


ALL_PATHS = list(_paths(BASE))


def _mutate(base, path, value):
    import copy

    doc = copy.deepcopy(base)
    if not path:
        return value
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(ALL_PATHS), value=junk, raw=st.booleans(), cut=st.integers(0, 400))
def test_malformed_specs_never_traceback(tmp_path, capsys, path, value, raw, cut):
    p = tmp_path / "fuzz.yaml"
    text = yaml.safe_dump(_mutate(BASE, path, value))
    if raw:  # also damage the YAML text itself
        text = text[:cut] + "]: {" + text[cut:]
    p.write_text(text)
    try:
        rc = main(["spec", "validate", str(p)])
    except SystemExit as exc:  # argparse would print usage: not expected here
        raise AssertionError(f"SystemExit {exc.code}") from None
    out = capsys.readouterr()
    assert rc in (0, 2)
    assert "Traceback" not in out.err
    if rc == 2:
        assert out.err.startswith("facegen: error: ") and out.err.count("\n") == 1 and str(p) in out.err
