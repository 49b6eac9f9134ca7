"""Batching items without transposing images: a DataLoader ``collate_fn``."""

from __future__ import annotations

import torch
from torch.utils.data import default_collate


def collate_faces(batch: list[dict]) -> dict:
    """Like ``default_collate``, but images ``(3, H, W)`` are stacked pixel-interleaved: the batch image
    is ``(B, 3, H, W)`` in ``torch.channels_last`` memory format (same values, same shape as the
    default's; convolutions take it as is, ``.contiguous()`` gives the NCHW layout). Stacking
    (H, W, 3) views is one plain copy per image instead of a strided, per-channel one; in a
    DataLoader worker the batch lands in shared memory as with ``default_collate``.
    """
    images = [item["image"] for item in batch]
    rest = default_collate([{k: v for k, v in item.items() if k != "image"} for item in batch])
    if isinstance(images[0], torch.Tensor) and images[0].dim() == 3:
        rest["image"] = default_collate([im.permute(1, 2, 0) for im in images]).permute(0, 3, 1, 2)
    else:
        rest["image"] = default_collate(images)
    return rest
