"""The top's necklines (appearance.garment_mask): which head-model vertices each one covers."""

import numpy as np
import pytest

from facegen.generator import appearance
from facegen.generator.appearance import NECK_BASE_Z, garment_mask


@pytest.fixture(scope="module")
def rest(model):
    return model.mean[: 3 * model.n_vertices].reshape(-1, 3)


def test_bare_shoulders_is_the_torso_region(model):
    assert np.array_equal(garment_mask(model, "bare_shoulders"), model.region_mask("torso"))


@pytest.mark.parametrize("neckline", ["crew", "scoop", "v_neck"])
def test_a_top_covers_the_shoulders_and_not_the_neck(model, rest, neckline):
    """Every neckline but bare shoulders covers the torso and the shoulders (neck-region skin more
    than 10 cm to the side), and leaves the neck between the base and the jaw bare."""
    g = garment_mask(model, neckline, 0.06)
    neck = model.region_mask("neck")
    assert g[model.region_mask("torso")].all()
    shoulders = neck & (np.abs(rest[:, 0]) > 0.10)
    assert shoulders.sum() > 20 and g[shoulders].all()
    column = neck & (rest[:, 2] > NECK_BASE_Z + 0.02) & (np.abs(rest[:, 0]) < 0.06)
    assert column.sum() > 50 and not g[column].any()
    assert not g[~(neck | model.region_mask("torso"))].any()  # never the head


def test_scoop_and_v_open_the_front_by_their_depth(model, rest):
    """At the front of the neck's base, a crew neckline covers what a scoop or V of 8 cm leaves
    bare; a deeper neckline covers a subset of a shallower one's vertices; the back is the same."""
    neck = model.region_mask("neck")
    front = neck & (np.abs(rest[:, 0]) < 0.02) & (rest[:, 1] < -0.03) & (rest[:, 2] < NECK_BASE_Z - 0.02)
    back = neck & (rest[:, 1] > 0.03)
    crew = garment_mask(model, "crew")
    assert front.sum() >= 3 and crew[front].all()
    for name in ("scoop", "v_neck"):
        shallow, deep = garment_mask(model, name, 0.03), garment_mask(model, name, 0.08)
        assert not deep[front].any()
        assert np.all(shallow[deep]) and deep.sum() < shallow.sum()
        assert np.array_equal(deep[back], crew[back])


def test_weights_are_half_at_the_edge_and_unknown_names_fail(model):
    g = garment_mask(model, "crew")
    w = appearance.clothing_weights(model, "crew")
    assert w.min() >= 0 and w.max() <= 1
    assert np.mean(w[g] >= 0.5) > 0.9 and np.mean(w[~g] < 0.5) > 0.95
    with pytest.raises(ValueError, match="turtle"):
        garment_mask(model, "turtle")


def test_segmentation_classes_follow_the_garment(model, rest):
    """With a crew top the shoulders are clothing and the neck above the neckline stays neck; the
    torso under an off-shoulder top is clothing either way."""
    from facegen.generator.segmentation import CLASSES, vertex_classes

    crew = vertex_classes(model.region_names, model.regions, True, garment=garment_mask(model, "crew"))
    bare = vertex_classes(model.region_names, model.regions, True, garment=garment_mask(model, "bare_shoulders"))
    neck = model.region_mask("neck")
    shoulders = neck & (np.abs(rest[:, 0]) > 0.10)
    assert (crew[shoulders] == CLASSES.index("clothing")).all() and (bare[shoulders] == CLASSES.index("neck")).all()
    column = neck & (rest[:, 2] > NECK_BASE_Z + 0.02) & (np.abs(rest[:, 0]) < 0.06)
    assert (crew[column] == CLASSES.index("neck")).all()
    torso = model.region_mask("torso")
    assert (crew[torso] == CLASSES.index("clothing")).all() and (bare[torso] == CLASSES.index("clothing")).all()
