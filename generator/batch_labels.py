"""Landmarks of many samples at once from stored numbers: the writer's and relabel's labeler.

``project_landmarks`` (generator/projection.py) labels one image from its full posed mesh. Relabelling
a stored dataset must be much faster (thousands of samples per second), so this module computes the
same quantities in batches, and only at the vertices a spec touches: before the neck skinning the
head model is linear in identity coefficients and expression activations, the eye centres are
linear too, and the skinning is a per-vertex blend of a few per-sample transforms. The camera is
read back (K, R, t), not re-aimed, and visibility uses the stored depth map.
``tests/generator/test_relabel.py::test_batch_labels_match_project_landmarks`` holds it equal to
``project_landmarks`` (< 1e-3 px in 2D, < 10 um in 3D).

The writer labels with this module too, so relabelling with the same spec reproduces the stored
labels bit for bit. Samples go through in padded blocks of exactly ``BLOCK``, so every matrix
product has the same shapes and a sample's numbers do not depend on which other samples share its
batch (shard size).

Layout: points are stored as coordinate planes, ``(3, P, B)`` (coordinate, point, sample in the
block), so every elementwise step runs over contiguous memory; per-sample numbers (rotations,
intrinsics) are ``(..., B)`` and broadcast along the last axis. Everything per point is float32
(0.1 um at 1 m; the silhouette marching, which divides small differences, moves by < 0.005 px).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from facegen.generator.head_model import CHAIN_FRACTIONS, axis_angle_fractions, rotation_matrices
from facegen.generator.projection import DEPTH_TOLERANCE_M
from facegen.generator.shard_format.chunks import float16_codes
from facegen.landmark_specs.resolve import CONTOUR_PROBE, ResolvedSpec

BLOCK = 64  # samples per padded block (fixed, so BLAS sees the same shapes whatever the batch)
F4 = np.float32


@dataclass(frozen=True)
class SampleInputs:
    """What a batch of N stored samples contributes (the shard's /samples arrays and depth)."""

    identity: np.ndarray  # (N, C) float64 identity PCA coefficients (HeadModel.identity_from_params)
    expression: np.ndarray  # (N, E) float64 expression activations, model.expression_names order
    gaze: np.ndarray  # (N, 2) float64 gaze yaw, pitch degrees
    head_pose: np.ndarray  # (N, 3) float64 yaw, pitch, roll degrees
    K: np.ndarray  # (N, 3, 3) float64 intrinsics
    R: np.ndarray  # (N, 3, 3) float64 world -> camera rotation
    t: np.ndarray  # (N, 3) float64 world -> camera translation
    depth: np.ndarray  # (N, H, W) float16/32 rendered depth, metres, inf = background; or the same
    #                    float16 maps as (N, 2, H, W) uint8 byte planes (shard_format.read_depth_bytes)
    cover: np.ndarray | None = None  # (N, H, W) uint8 coverage by scalp hair and objects (RenderResult.cover);
    #                                  None: nothing occludes (raster renders, schema 1 shards)


class SparseHead:
    """The head model restricted to vertices ``ids``: ``posed(...) -> (3, S, B)`` camera coordinates."""

    def __init__(self, model, ids: np.ndarray):
        self.ids = ids = np.asarray(ids, np.int64)  # (S,) vertex ids
        nv = model.n_vertices
        planes = (np.arange(3)[:, None] + ids[None] * 3).ravel()  # (3S,) x of every vertex, then y, then z
        jcols = 3 * nv + np.arange(3 * len(model.chain_names))
        comps = model.components.astype(np.float64)
        mean = model.mean.astype(np.float64)
        expr = model.expressions.astype(np.float64).reshape(len(model.expression_names), -1)
        eyes = list(model._eyes)
        # Linear part: [1, identity, expression] @ basis -> vertex planes, joints, eye centres.
        eye_mean = [mean[: 3 * nv].reshape(-1, 3)[e].mean(0) for e in eyes]
        eye_comp = [comps[:, : 3 * nv].reshape(len(comps), -1, 3)[:, e].mean(1) for e in eyes]
        eye_expr = [expr.reshape(len(expr), -1, 3)[:, e].mean(1) for e in eyes]
        self._basis = np.concatenate([
            np.concatenate([mean[planes], mean[jcols], *eye_mean])[None],
            np.concatenate([comps[:, planes], comps[:, jcols], *eye_comp], 1),
            np.concatenate([expr[:, planes], np.zeros((len(expr), len(jcols))), *eye_expr], 1)]).astype(F4)
        self._n_j = len(model.chain_names)
        self._eye_sel = [np.flatnonzero(np.isin(ids, members)) for members in eyes]  # local ids per eye
        self._weights = model.skin_weights[ids].astype(F4)  # (S, 1 + J)

    def posed(self, identity, expression, gaze, head_pose, R, t) -> np.ndarray:
        """``(3, S, B)`` float32 posed positions (``HeadModel.vertices`` to float32 round-off) in
        camera coordinates ``R x + t``; every input has ``B = BLOCK`` rows (``R (B, 3, 3)``, ...)."""
        b, s, nj = len(identity), len(self.ids), self._n_j
        coef = np.concatenate([np.ones((b, 1)), identity, expression], 1).astype(F4)
        # One vector-matrix product per sample, not one (B, C) @ (C, N) product: BLAS computes a
        # gemm's rows with different kernels by their position (tail rows), which changed a sample's
        # labels in the last float32 bit with its place in the batch. This costs ~12 us a sample.
        flat = (coef[:, None, :] @ self._basis)[:, 0]  # (B, 3S + 3J + 6)
        verts = np.ascontiguousarray(flat[:, : 3 * s].T).reshape(3, s, b)
        joints = flat[:, 3 * s: 3 * s + 3 * nj].reshape(b, nj, 3).astype(np.float64)
        centres = flat[:, 3 * s + 3 * nj:].reshape(b, 2, 3).T  # (3, 2, B)
        gaze_rot = rotation_matrices(gaze[:, 0], gaze[:, 1], np.zeros(b)).astype(F4).transpose(1, 2, 0)  # (3, 3, B)
        for e, sel in enumerate(self._eye_sel):
            local = verts[:, sel] - centres[:, e, None]
            verts[:, sel] = _apply(gaze_rot, local) + centres[:, e, None]
        # The chain's rigid transforms (float64, tiny), with the camera folded in, so that one pass over
        # the vertices both skins them and moves them into camera coordinates.
        head = rotation_matrices(head_pose[:, 0], head_pose[:, 1], head_pose[:, 2])
        r_acc, t_acc = R, t  # level 0 (static vertices): the camera alone
        levels = [np.concatenate([r_acc.transpose(0, 2, 1).reshape(b, 9), t_acc], 1)]
        pose_r, pose_t = np.broadcast_to(np.eye(3), (b, 3, 3)), np.zeros((b, 3))
        for j in range(nj):
            r_j = axis_angle_fractions(head, CHAIN_FRACTIONS[j])
            pivot = np.einsum("bij,bj->bi", pose_r, joints[:, j]) + pose_t
            pose_r = r_j @ pose_r
            pose_t = np.einsum("bij,bj->bi", r_j, pose_t - pivot) + pivot
            r_acc, t_acc = R @ pose_r, np.einsum("bij,bj->bi", R, pose_t) + t
            levels.append(np.concatenate([r_acc.transpose(0, 2, 1).reshape(b, 9), t_acc], 1))
        # Linear blend skinning as one blended affine map per vertex: m[3k + c] is its matrix's (c, k)
        # entry, m[9 + c] its translation.
        lv = np.stack(levels, 0).astype(F4)  # (1 + J, B, 12)
        m = (self._weights @ lv.transpose(0, 2, 1).reshape(nj + 1, 12 * b)).reshape(s, 12, b).transpose(1, 0, 2)
        return np.stack([m[c] * verts[0] + m[3 + c] * verts[1] + m[6 + c] * verts[2] + m[9 + c] for c in range(3)])


def _apply(rot: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``rot (3, 3, B) @ p (3, ..., B)`` per sample -> ``(3, ..., B)``."""
    return np.stack([rot[c, 0] * p[0] + rot[c, 1] * p[1] + rot[c, 2] * p[2] for c in range(3)])


def _bary(w: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Barycentric combination: weights ``(..., 3)``, corners ``(3, ..., 3, B)`` -> ``(3, ..., B)``."""
    return w[..., 0, None] * corners[..., 0, :] + w[..., 1, None] * corners[..., 1, :] + w[..., 2, None] * corners[..., 2, :]


def spec_vertex_ids(spec: ResolvedSpec, faces: np.ndarray) -> np.ndarray:
    """Sorted vertex ids a spec's landmarks, contour candidates and pupils use."""
    tris = np.concatenate([spec.triangle.ravel(), spec.contour_triangle.ravel(), spec.pupil_triangle.ravel()])
    return np.unique(faces[tris])


class BatchLabeler:
    """Labels of one resolved spec for batches of stored samples: ``label(inputs) -> dict``."""

    def __init__(self, spec: ResolvedSpec, model, tolerance: float = DEPTH_TOLERANCE_M):
        self.spec, self.tolerance = spec, tolerance
        faces = np.asarray(model.faces, np.int64)
        ids = spec_vertex_ids(spec, faces)
        self.head = SparseHead(model, ids)
        corners = lambda tri: np.searchsorted(ids, faces[np.asarray(tri)])  # noqa: E731  (..., 3) local ids
        self._lm, self._ct, self._pu = corners(spec.triangle), corners(spec.contour_triangle), corners(spec.pupil_triangle)
        self._bary, self._pupil_bary = spec.bary.astype(F4), spec.pupil_bary.astype(F4)  # (K, 3), (2, 3)
        # Silhouette candidates flattened: (S, L, C) -> S * L * C rows of corner ids and weights.
        self._lines = spec.contour_triangle.shape
        self._ct = self._ct.reshape(-1, 3)
        self._contour_bary = spec.contour_bary.astype(F4).reshape(-1, 3)

    def label(self, x: SampleInputs) -> dict[str, np.ndarray]:
        """``shard_format.LABEL_FIELDS`` arrays for the N samples of ``x`` (N may be 0)."""
        n, k = len(x.identity), self.spec.n_landmarks
        shapes = dict(landmarks_2d=(k, 2), landmarks_2d_contour=(k, 2), landmarks_3d=(k, 3), landmarks_3d_contour=(k, 3),
                      pupils_2d=(2, 2), pupils_3d=(2, 3), visible=(k,), self_occluded=(k,), out_of_frame=(k,),
                      occluded=(k,), pupils_visible=(2,))
        out = {name: np.empty((n, *shape), F4 if len(shape) == 2 else bool) for name, shape in shapes.items()}
        per_sample = [f for f in SampleInputs.__dataclass_fields__ if f not in ("depth", "cover")]
        # One BLAS thread: OpenBLAS splits a product between its threads at places that depend on
        # the thread count, and a split moves results by a float32 ulp; facegen gives each render or
        # relabel worker cores // workers threads, so without this a sample's labels would depend
        # on --workers. The products here are small; one thread was as fast as two (measured).
        with threadpool_limits(limits=1, user_api="blas"):
            for a in range(0, n, BLOCK):
                rows = np.minimum(np.arange(a, a + BLOCK), n - 1)  # a short last block repeats its last sample
                block = self._label(*(getattr(x, f)[rows] for f in per_sample), depth=x.depth, cover=x.cover,
                                    rows=rows)
                for name, v in block.items():  # (C, P, B) planes or (P, B) flags -> (B, P, C) or (B, P) rows
                    out[name][a: a + BLOCK] = v.T[: n - a]
        return out

    def _label(self, identity, expression, gaze, head_pose, K, R, t, depth, cover, rows) -> dict[str, np.ndarray]:
        """One block of exactly BLOCK samples: ``SampleInputs`` fields of those rows, except the depth
        and cover maps, which stay whole (``rows`` picks a block's maps: no copy). Returns ``(C, P, B)``
        coordinate planes and ``(P, B)`` flags."""
        spec = self.spec
        cam_v = self.head.posed(identity, expression, gaze, head_pose, R, t)  # (3, S, B)
        cam = _bary(self._bary, cam_v[:, self._lm])  # (3, K, B)
        cam_c = cam.copy()
        if len(spec.contour_index):
            cam_c[:, spec.contour_index] = self._contour(cam_v)
        pcam = _bary(self._pupil_bary, cam_v[:, self._pu])  # (3, 2, B)
        f, c = K[:, 0, 0].astype(F4), K[:, :2, 2].T.astype(F4)[:, None]  # (B,), (2, 1, B)
        uv, uv_c, puv = (p[:2] / p[2] * f + c for p in (cam, cam_c, pcam))  # Camera.project's formula
        oof, occ = self._depth_test(uv, cam[2], depth, rows)
        p_oof, p_occ = self._depth_test(puv, pcam[2], depth, rows)
        hidden = ~(oof | occ) & _covered(uv, cover, rows)
        p_hidden = ~(p_oof | p_occ) & _covered(puv, cover, rows)
        return dict(landmarks_2d=uv, landmarks_2d_contour=uv_c, landmarks_3d=cam, landmarks_3d_contour=cam_c,
                    pupils_2d=puv, pupils_3d=pcam, visible=~(oof | occ | hidden), self_occluded=occ,
                    out_of_frame=oof, occluded=hidden, pupils_visible=~(p_oof | p_occ | p_hidden))

    def _contour(self, cam_v: np.ndarray) -> np.ndarray:
        """``(3, S, B)`` camera points of the silhouette landmarks slid to the outline
        (projection._contour_points, in camera coordinates: the camera sits at the origin).

        Each landmark's line is the one whose candidate ``CONTOUR_PROBE`` faces the camera most;
        only that line's candidates are then tested. A candidate faces the camera when its
        triangle does: ``n . (0 - p) > 0`` for the triangle's normal ``n`` and any point ``p`` of
        its plane (its first corner here), and the candidate points themselves are computed only
        at the two candidates each landmark interpolates between."""
        n_s, n_l, n_c = self._lines
        b = cam_v.shape[-1]
        flat_v = cam_v.reshape(3, -1)  # vertex i of sample j at i * B + j
        b_idx = np.arange(b)

        def corners(rows):  # (3, ..., B, 3) triangle corners of the candidates ``rows (..., B)``
            return flat_v[:, self._ct[rows] * b + b_idx[:, None]]

        def normal(c):
            e1, e2 = c[..., 1] - c[..., 0], c[..., 2] - c[..., 0]
            return np.stack([e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]])

        def candidate(rows):  # (3, ..., B) points and (..., B) facing (cosine) of candidates rows (..., B)
            c, w = corners(rows), self._contour_bary[rows]
            p = w[..., 0] * c[..., 0] + w[..., 1] * c[..., 1] + w[..., 2] * c[..., 2]
            n = normal(c)
            dot = n[0] * p[0] + n[1] * p[1] + n[2] * p[2]
            n_len = np.sqrt(n[0] ** 2 + n[1] ** 2 + n[2] ** 2)
            return p, -dot / (n_len * np.sqrt(p[0] ** 2 + p[1] ** 2 + p[2] ** 2) + F4(1e-30))

        lines = np.arange(n_s * n_l)[:, None] * n_c + np.zeros((1, b), np.int64)  # (S * L, B) first candidates
        _, probe = candidate(lines + CONTOUR_PROBE)
        line = np.argmax(probe.reshape(n_s, n_l, b), axis=1)  # (S, B): the line the surface turns fastest along
        first = (np.arange(n_s)[:, None] * n_l + line) * n_c  # (S, B) its candidate 0
        rows = first[:, None] + np.arange(n_c)[:, None]  # (S, C, B)
        c = corners(rows)  # (3, S, C, B, 3)
        n = normal(c)
        front = (n[0] * c[0, ..., 0] + n[1] * c[1, ..., 0] + n[2] * c[2, ..., 0]) < 0  # (S, C, B)
        k = np.where(front.any(1), np.argmax(front, 1), n_c - 1)  # (S, B)
        prev = np.maximum(k - 1, 0)
        pa, fa = candidate(first + prev)
        pb, fb = candidate(first + k)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.clip(np.where((k > 0) & (fb > fa), -fa / (fb - fa), F4(1.0)), 0.0, 1.0)
        return (1 - t) * pa + t * pb

    def _depth_test(self, uv: np.ndarray, z: np.ndarray, depth: np.ndarray, rows: np.ndarray):
        """``(out_of_frame, self_occluded)`` ``(P, B)`` bool for pixels ``uv (2, P, B)`` at camera depth
        ``z (P, B)`` of the samples ``rows (B,)`` of ``depth`` (projection._depth_test, batched): a point
        is hidden when it lies more than the tolerance behind the farthest of its 4 nearest pixel centres.

        Depths are non-negative (inf: background), and for non-negative floats the order of their bit
        patterns read as unsigned integers is the order of the values (NaN above inf): the farthest
        of the 4 is found on the integer codes and only it is turned back into a float."""
        h, w = depth.shape[-2:]
        oof = (uv[0] < 0) | (uv[0] >= w) | (uv[1] < 0) | (uv[1] >= h) | (z <= 0) | ~np.isfinite(uv).all(0)
        with np.errstate(invalid="ignore"):  # non-finite uv: any pixel will do, the point is out of frame
            j0 = np.floor(uv[0] - F4(0.5)).astype(np.intp)
            i0 = np.floor(uv[1] - F4(0.5)).astype(np.intp)
        flat = depth.reshape(-1)
        planes = depth.dtype == np.uint8  # float16 split in low and high byte planes
        row_at = [rows * (flat.size // len(depth)) + np.clip(i0 + di, 0, h - 1) * w for di in (0, 1)]
        cols = [np.clip(j0 + dj, 0, w - 1) for dj in (0, 1)]
        code = None
        for r in row_at:
            for c in cols:
                at = r + c
                if planes:
                    k = float16_codes(flat.take(at), flat.take(at + h * w))
                else:
                    k = flat.take(at).view(f"u{depth.dtype.itemsize}")
                code = k if code is None else np.maximum(code, k)
        far = (code.view(np.float16) if planes else code.view(depth.dtype)).astype(F4)
        occ = ~oof & (z > far + F4(self.tolerance))
        return oof, occ


def _covered(uv: np.ndarray, cover: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """``(P, B)`` bool: the pixel under each point ``uv (2, P, B)`` of samples ``rows (B,)`` is at
    least half covered in ``cover (N, H, W)`` uint8 (128 of 255); all False without a cover map or
    for points outside the image (the caller also requires in frame and not self-occluded)."""
    if cover is None:
        return np.zeros(uv.shape[1:], bool)
    h, w = cover.shape[-2:]
    with np.errstate(invalid="ignore"):
        j = np.clip(np.nan_to_num(np.floor(uv[0]), nan=-1.0), -1, w).astype(np.intp)
        i = np.clip(np.nan_to_num(np.floor(uv[1]), nan=-1.0), -1, h).astype(np.intp)
    inside = (j >= 0) & (j < w) & (i >= 0) & (i < h)
    at = rows * (h * w) + np.clip(i, 0, h - 1) * w + np.clip(j, 0, w - 1)
    return inside & (cover.reshape(-1).take(at) >= 128)
