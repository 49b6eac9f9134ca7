"""NME on hand-made examples."""

import numpy as np
import pytest

from facegen.trainer.metrics import nme, nme_per_image, normaliser


def _face():
    gt = np.zeros((1, 68, 2))
    gt[0, 42:48] = (10.0, 0.0)  # left eye at x = 10, right eye at x = 0: pupils 10 apart
    gt[0, 36] = (-2.0, 0.0)  # right outer corner; 39 balances it so the right pupil stays at 0
    gt[0, 39] = (2.0, 0.0)
    gt[0, 45] = (12.0, 0.0)  # left outer corner; 42 balances it
    gt[0, 42] = (8.0, 0.0)
    return gt


def test_normalisers():
    gt = _face()
    assert normaliser(gt, "inter_pupil") == pytest.approx([10.0])
    assert normaliser(gt, "inter_ocular") == pytest.approx([14.0])


def test_constant_offset():
    gt = _face()
    pred = gt + (3.0, 4.0)  # every point 5 px off
    assert nme(pred, gt, "inter_pupil") == pytest.approx(50.0)
    assert nme(pred, gt, "inter_ocular") == pytest.approx(500.0 / 14.0)
    assert nme(gt, gt, "inter_ocular") == 0.0


def test_unlabelled_points_are_skipped_and_images_averaged():
    gt = np.concatenate([_face(), _face() * 2])  # second face twice as large
    pred = gt.copy()
    pred[0, 0] += (10.0, 0.0)  # one point 10 px off on face 0: mean error 10/68
    pred[1, :17] += (0.0, 20.0)  # jaw 20 px off on face 1, but unlabelled there
    gt[1, :17] = np.nan
    per = nme_per_image(pred, gt, "inter_pupil")
    assert per == pytest.approx([100 * 10 / 68 / 10, 0.0])
    assert nme(pred, gt, "inter_pupil") == pytest.approx(np.mean(per))


def test_unscorable_image_is_nan():
    gt = _face()
    gt[0, 36] = np.nan
    assert np.isnan(nme_per_image(gt, gt, "inter_ocular")[0])
    assert np.isnan(nme(gt, gt, "inter_ocular"))
