"""Hourglass and label-transfer shapes (K from the argument, never a literal)."""

import pytest
import torch

from facegen.trainer.hourglass import HourglassConfig, StackedHourglass
from facegen.trainer.label_transfer import LabelTransferUNet


@pytest.mark.parametrize("k,stacks", [(5, 1), (243, 2)])
def test_hourglass_shapes(k, stacks):
    net = StackedHourglass(HourglassConfig(num_landmarks=k, stacks=stacks, channels=16, depth=2, input_size=64))
    outs, feat = net(torch.rand(2, 3, 64, 64), return_features=True)
    assert len(outs) == stacks and all(o.shape == (2, k, 16, 16) for o in outs)
    assert feat.shape == (2, 16, 16, 16) and net.task_head(feat).shape == (2, k, 16, 16)
    assert net.visibility_logits(feat, outs[-1]).shape == (2, k)


def test_visibility_is_read_where_the_heatmap_peaks():
    net = StackedHourglass(HourglassConfig(num_landmarks=2, stacks=1, channels=4, depth=1, input_size=16))
    with torch.no_grad():
        net.visibility.weight.zero_()
        net.visibility.weight[:, 0] = 1.0  # logit map of both points = feature channel 0
        net.visibility.bias.zero_()
    feat = torch.zeros(1, 4, 4, 4)
    feat[0, 0, 1, 2], feat[0, 0, 3, 0] = 5.0, -5.0
    heat = torch.zeros(1, 2, 4, 4)
    heat[0, 0, 1, 2], heat[0, 1, 3, 0] = 1.0, 1.0  # point 0 peaks on the +5 pixel, point 1 on the -5
    logits = net.visibility_logits(feat, heat)
    assert logits[0, 0] > 3 and logits[0, 1] < -3


def test_hourglass_rejects_bad_input_size():
    with pytest.raises(ValueError, match="divisible"):
        StackedHourglass(HourglassConfig(num_landmarks=3, channels=16, depth=3, input_size=48))


@pytest.mark.parametrize("k", [68, 243])
def test_label_transfer_shapes(k):
    lt = LabelTransferUNet(k, 68, channels=8)
    x = torch.rand(2, k, 16, 16, requires_grad=True)
    y = lt(x)
    assert y.shape == (2, 68, 16, 16)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape  # real labels reach the dense model
    with pytest.raises(ValueError):
        lt(torch.rand(1, k, 18, 18))
