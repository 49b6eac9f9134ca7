"""PyTorch datasets over facegen shards and real 300-W folders, transforms and a heatmap codec.

This package imports torch (``import facegen`` does not import it). See ``loaders/README.md``.
"""

from facegen.loaders.collate import collate_faces
from facegen.loaders.errors import LoaderError
from facegen.loaders.heatmaps import HeatmapCodec
from facegen.loaders.real import IBUG68_FLIP, RealFaces, read_pts
from facegen.loaders.shards import FaceShards, ShardIndex, to_torch_item
from facegen.loaders.stream import FaceShardStream
from facegen.loaders.transforms import (Compose, CropAroundLandmarks, Photometric, RandomAffine, RandomFlip,
                                        RandomOcclusion)

__all__ = ["Compose", "CropAroundLandmarks", "FaceShardStream", "FaceShards", "HeatmapCodec", "IBUG68_FLIP",
           "LoaderError", "collate_faces", "Photometric", "RandomAffine", "RandomFlip", "RandomOcclusion", "RealFaces",
           "ShardIndex", "read_pts", "to_torch_item"]
