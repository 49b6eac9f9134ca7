"""The raw-chunk fast paths of the shard format read and write exactly what h5py's filters do."""

from __future__ import annotations

import h5py
import numpy as np

from facegen.generator import shard_format as sf


def test_write_deflated_reads_back_through_h5py(tmp_path):
    rng = np.random.default_rng(0)
    arrays = dict(f4=rng.normal(size=(7, 490, 2)).astype(np.float32), b=rng.random((7, 490)) > 0.5,
                  f8=rng.normal(size=(3, 4)), empty=np.zeros((0, 5, 3), np.float32))
    with h5py.File(tmp_path / "a.h5", "w") as f:
        for k, v in arrays.items():
            sf.write_deflated(f, k, v)
    with h5py.File(tmp_path / "a.h5", "r") as f:
        for k, v in arrays.items():
            assert f[k].dtype == v.dtype and np.array_equal(f[k][()], v), k
        assert f["f4"].compression == "gzip" and f["f4"].shuffle


def test_depth_bytes_and_image_rows_match_h5py(tmp_path):
    rng = np.random.default_rng(1)
    depth = rng.uniform(0.3, 1.5, (4, 16, 16)).astype(np.float16)
    depth[:, :3] = np.inf
    images = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.create_dataset("depth", data=depth, chunks=(1, 16, 16), compression="gzip", compression_opts=1, shuffle=True)
        f.create_dataset("images", data=images, chunks=(1, 16, 16, 3), compression="gzip", compression_opts=1,
                         shuffle=True)
        f.create_dataset("depth_plain", data=depth)  # another layout: read through h5py
        f.create_dataset("depth_lzf", data=depth, chunks=(2, 16, 16), compression="lzf")
        gap = f.create_dataset("depth_gap", (4, 16, 16), np.float16, chunks=(1, 16, 16), compression="gzip",
                               shuffle=True, fillvalue=np.inf)
        gap[0], gap[1], gap[3] = depth[0], depth[1], depth[3]  # row 2 never written: the fill value
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert sf.deflated_rows(f["depth"]) and sf.deflated_rows(f["images"])
        assert not sf.deflated_rows(f["depth_plain"]) and not sf.deflated_rows(f["depth_lzf"])
        for name in ("depth", "depth_plain", "depth_lzf"):
            planes = sf.read_depth_bytes(f[name])
            assert planes.shape == (4, 2, 16, 16) and planes.dtype == np.uint8
            assert np.array_equal(sf.depth_from_bytes(planes), depth), name
        rows = sf.stored_rows(f["depth"])
        assert rows == [f["depth"].id.read_direct_chunk((i, 0, 0))[1] for i in range(4)]
        assert sf.stored_rows(f["depth_gap"]) is None
        with_gap = depth.copy()
        with_gap[2] = np.inf
        assert np.array_equal(sf.depth_from_bytes(sf.read_depth_bytes(f["depth_gap"])), with_gap)
        for i in range(4):
            assert np.frombuffer(sf.inflate_row(f["images"], i), np.uint8).reshape(16, 16, 3).tolist() == images[i].tolist()
