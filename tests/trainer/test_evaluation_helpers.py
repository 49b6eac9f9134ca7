"""Protocol (a) index maps and 300-W subset grouping."""

import numpy as np

from facegen.trainer.evaluate import split_fit, subset_masks
from facegen.generator.projection import ibug68_map, load_spec


def test_ibug_map_68_is_identity_and_dense_is_declared(model):
    assert ibug68_map(load_spec("68", model), model).tolist() == list(range(68))
    s243 = load_spec("243", model)
    idx = ibug68_map(s243, model).tolist()
    assert idx == s243.ibug68.tolist()  # the spec's own declaration, not nearest points
    assert len(idx) == 68 and all(0 <= i < 243 for i in idx) and len(set(idx)) == 68


def test_300w_subsets(tmp_path):
    paths = [str(tmp_path / s / f"{i}.jpg") for s in ("lfpw", "helen", "ibug", "afw") for i in range(3)]
    masks = subset_masks(np.array(paths), str(tmp_path))
    assert list(masks) == ["common", "challenging", "full", "afw"]
    assert masks["common"].sum() == 6 and masks["challenging"].sum() == 3 and masks["full"].sum() == 9
    fit = split_fit(len(paths), masks, seed=0)
    assert 0 < fit.sum() < len(paths) and all((m & ~fit).any() for m in masks.values())
    private = [str(tmp_path / s / f"{i}.png") for s in ("01_Indoor", "02_Outdoor") for i in range(2)]
    both = subset_masks(np.array(paths + private), str(tmp_path))
    assert list(both) == ["common", "challenging", "full", "indoor", "outdoor", "private", "afw"]
    assert both["full"].sum() == 9 and both["indoor"].sum() == both["outdoor"].sum() == 2 and both["private"].sum() == 4
    assert not (both["full"] & both["private"]).any()
    flat = subset_masks(np.array([str(tmp_path / "a.jpg")]), str(tmp_path))
    assert list(flat) == [tmp_path.name]
