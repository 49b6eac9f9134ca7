"""Geometry on the template surface: shortest paths over mesh edges, arc-length resampling,
farthest-point sampling, left/right mirroring and frontal ray casts.

Every surface point is a ``(triangle id, barycentric weights (3,))`` pair, so that it follows any
posed version of the mesh by barycentric interpolation. Plain numpy + heapq.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TemplateMesh:
    """The template a spec is bound to (the generator passes the head model's neutral mesh)."""

    vertices: np.ndarray  # (V, 3) float64 metres; x = subject's left, y = back, z = up
    faces: np.ndarray  # (F, 3) int64 vertex ids, counter-clockwise seen from outside
    regions: dict  # region name -> (V,) bool vertex mask; must include eyeball_left, eyeball_right
    mirror: np.ndarray  # (V,) int64 id of each vertex's left/right mirror vertex


class Surface:
    """Adjacency and lookup tables of a ``TemplateMesh``, built once per resolve."""

    def __init__(self, mesh: TemplateMesh):
        self.mesh = mesh
        self.v = np.asarray(mesh.vertices, np.float64)
        self.f = np.asarray(mesh.faces, np.int64)
        n = len(self.v)
        edges = np.concatenate([self.f[:, [0, 1]], self.f[:, [1, 2]], self.f[:, [2, 0]]])
        edges = np.sort(edges, axis=1)
        key = np.unique(edges[:, 0] * n + edges[:, 1])  # = np.unique(edges, axis=0), ~10x faster
        edges = np.stack([key // n, key % n], axis=1)
        lengths = np.linalg.norm(self.v[edges[:, 0]] - self.v[edges[:, 1]], axis=1)
        self.neighbours: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for (a, b), d in zip(edges.tolist(), lengths.tolist()):
            self.neighbours[a].append((b, d))
            self.neighbours[b].append((a, d))
        # Triangles of each vertex / each edge, and the triangle with a given vertex set.
        self.vertex_face = np.full(n, -1, np.int64)
        self.vertex_face[self.f[:, 0]] = np.arange(len(self.f))
        self.vertex_face[self.f[:, 1]] = np.arange(len(self.f))
        self.vertex_face[self.f[:, 2]] = np.arange(len(self.f))
        self.edge_face: dict[tuple[int, int], int] = {}
        self.face_by_set: dict[tuple[int, int, int], int] = {}
        for fi, (a, b, c) in enumerate(self.f.tolist()):
            for e in ((a, b), (b, c), (c, a)):
                self.edge_face.setdefault((min(e), max(e)), fi)
            self.face_by_set[tuple(sorted((a, b, c)))] = fi

    def point(self, tri: np.ndarray, bary: np.ndarray) -> np.ndarray:
        """``(K,)`` triangles and ``(K, 3)`` weights -> ``(K, 3)`` template positions."""
        return np.einsum("kc,kcd->kd", bary, self.v[self.f[tri]])

    def vertex_point(self, vertex: int) -> tuple[int, np.ndarray]:
        """A vertex as a (triangle, one-hot barycentric) surface point."""
        fi = int(self.vertex_face[vertex])
        bary = (self.f[fi] == vertex).astype(np.float64)
        return fi, bary

    def shortest_path(self, start: int, goal: int, allowed: np.ndarray | None) -> list[int] | None:
        """Dijkstra over mesh edges: vertex ids from ``start`` to ``goal``, or None if they are not
        connected (through ``allowed`` vertices only, when given: ``(V,)`` bool)."""
        dist = {start: 0.0}
        prev: dict[int, int] = {}
        heap = [(0.0, start)]
        while heap:
            d, a = heapq.heappop(heap)
            if a == goal:
                path = [goal]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return path[::-1]
            if d > dist[a]:
                continue
            for b, w in self.neighbours[a]:
                if allowed is not None and not allowed[b] and b != goal:
                    continue
                nd = d + w
                if nd < dist.get(b, np.inf) - 1e-15:
                    dist[b] = nd
                    prev[b] = a
                    heapq.heappush(heap, (nd, b))
        return None

    def segment_points(self, va: int, vb: int, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points at fractions ``t (N,)`` along the mesh edge ``va -> vb`` as (triangles, bary)."""
        fi = self.edge_face[(min(va, vb), max(va, vb))]
        corners = self.f[fi]
        bary = np.zeros((len(t), 3))
        bary[:, int(np.flatnonzero(corners == va)[0])] = 1.0 - t
        bary[:, int(np.flatnonzero(corners == vb)[0])] = t
        return np.full(len(t), fi, np.int64), bary

    def mirror_points(self, tri: np.ndarray, bary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The left/right mirror images of surface points; raises KeyError if the template's
        mirror map sends a triangle to no triangle."""
        out_t = np.empty_like(tri)
        out_b = np.empty_like(bary)
        for i, (fi, b) in enumerate(zip(tri.tolist(), bary)):
            mv = self.mesh.mirror[self.f[fi]]
            mf = self.face_by_set[tuple(sorted(mv.tolist()))]
            out_t[i] = mf
            for c in range(3):
                out_b[i, int(np.flatnonzero(self.f[mf] == mv[c])[0])] = b[c]
        return out_t, out_b

    def frontal_hits(self, xz: np.ndarray, face_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Cast rays along +y (from in front of the face) through ``(N, 2)`` (x, z) positions and
        return the nearest hit of each as (triangles ``(N,)``, bary ``(N, 3)``); triangle -1 where
        the ray misses. ``face_mask (F,)`` bool limits the triangles considered.

        Each ray only tests the triangles whose padded (x, z) bounding box overlaps its cell of a
        uniform 64 x 64 grid (over the triangles' extent), in triangle-id order, so the hit
        (the first nearest, as argmin picks it) is the one a test against every triangle finds."""
        fids = np.arange(len(self.f)) if face_mask is None else np.flatnonzero(face_mask)
        tri = self.v[self.f[fids]]  # (F, 3, 3)
        p0, e1, e2 = tri[:, 0, [0, 2]], tri[:, 1, [0, 2]] - tri[:, 0, [0, 2]], tri[:, 2, [0, 2]] - tri[:, 0, [0, 2]]
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        ok = np.abs(det) > 1e-14
        fids, p0, e1, e2, det, tri = fids[ok], p0[ok], e1[ok], e2[ok], det[ok], tri[ok]
        xz = np.asarray(xz, np.float64).reshape(-1, 2)
        out_t = np.full(len(xz), -1, np.int64)
        out_b = np.zeros((len(xz), 3))
        if not len(fids):
            return out_t, out_b
        # Bounding boxes padded by 1 um: the inside test below accepts points up to 1e-9 (in
        # barycentric units) outside a triangle, i.e. well under a nanometre for this mesh.
        lo, hi = tri[:, :, [0, 2]].min(axis=1) - 1e-6, tri[:, :, [0, 2]].max(axis=1) + 1e-6
        origin, cell = lo.min(axis=0), np.maximum((hi.max(axis=0) - lo.min(axis=0)) / 64, 1e-9)
        c_lo = np.floor((lo - origin) / cell).astype(np.int64)
        c_hi = np.floor((hi - origin) / cell).astype(np.int64)
        # (cell, triangle) pairs for every cell each box covers, grouped by cell (CSR arrays; a
        # stable sort keeps triangle-id order within a cell).
        n_x, n_z = c_hi[:, 0] - c_lo[:, 0] + 1, c_hi[:, 1] - c_lo[:, 1] + 1
        tri_of = np.repeat(np.arange(len(fids)), n_x * n_z)
        k = np.arange(len(tri_of)) - np.repeat(np.cumsum(n_x * n_z) - n_x * n_z, n_x * n_z)
        width = int(c_hi[:, 1].max()) + 1
        cell_of = (c_lo[tri_of, 0] + k // n_z[tri_of]) * width + c_lo[tri_of, 1] + k % n_z[tri_of]
        order = np.argsort(cell_of, kind="stable")
        cells, tri_of = cell_of[order], tri_of[order]
        q_cell = np.floor((xz - origin) / cell).astype(np.int64)
        in_grid = (q_cell >= 0).all(axis=1) & (q_cell[:, 1] < width)
        q_id = np.where(in_grid, q_cell[:, 0] * width + q_cell[:, 1], -1)
        starts, ends = np.searchsorted(cells, q_id, "left"), np.searchsorted(cells, q_id, "right")
        for i, q in enumerate(xz):
            if starts[i] == ends[i]:
                continue
            cand = tri_of[starts[i]:ends[i]]
            d = q - p0[cand]
            b1 = (d[:, 0] * e2[cand, 1] - d[:, 1] * e2[cand, 0]) / det[cand]
            b2 = (e1[cand, 0] * d[:, 1] - e1[cand, 1] * d[:, 0]) / det[cand]
            b0 = 1.0 - b1 - b2
            inside = (b0 >= -1e-9) & (b1 >= -1e-9) & (b2 >= -1e-9)
            if not inside.any():
                continue
            bb = np.stack([b0, b1, b2], axis=1)[inside]
            y = (bb * tri[cand[inside], :, 1]).sum(axis=1)
            j = int(np.argmin(y))
            out_t[i] = fids[cand[inside][j]]
            out_b[i] = np.clip(bb[j], 0.0, 1.0) / np.clip(bb[j], 0.0, 1.0).sum()
        return out_t, out_b


def resample_polyline(pts: np.ndarray, seg_tri: np.ndarray, seg_bary: np.ndarray, count: int,
                      closed: bool, ends: bool = True, at: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Evenly spaced points by arc length along a surface polyline.

    Args:
        pts: ``(P, 3)`` polyline positions.
        seg_tri: ``(P - 1,)`` the triangle holding each segment.
        seg_bary: ``(P - 1, 2, 3)`` barycentric weights of each segment's two ends in that triangle.
        count: number of samples; an open curve gets both ends, a closed one starts at ``pts[0]``
            and leaves out the end (which is the start again).
        ends: open curves only: False spaces the samples strictly between the two ends.
        at: arc-length positions of the samples instead (``anchor_arc_positions``).
    Returns: ``(count,)`` triangles and ``(count, 3)`` barycentric weights.
    """
    seg_len = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    total = cum[-1]
    if at is not None:
        s = np.asarray(at, np.float64)
    elif closed:
        s = np.arange(count) * (total / count)
    elif ends:
        s = np.arange(count) * (total / max(count - 1, 1))
    else:
        s = np.arange(1, count + 1) * (total / (count + 1))
    seg = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg_len) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(seg_len[seg] > 0, (s - cum[seg]) / seg_len[seg], 0.0)
    t = np.clip(t, 0.0, 1.0)[:, None]
    bary = (1.0 - t) * seg_bary[seg, 0] + t * seg_bary[seg, 1]
    return seg_tri[seg].copy(), bary


def anchor_arc_positions(arc_at_anchor: np.ndarray, total: float, count: int, closed: bool,
                         ends: bool) -> tuple[np.ndarray, np.ndarray]:
    """Arc-length positions of ``count`` samples that include every anchor (``keep_anchors``):
    the anchors at ``arc_at_anchor (A,)`` (increasing; a closed curve's length ``total`` returns
    to the first), and ``count`` minus the anchors kept spread over the segments between anchors
    in proportion to their length (largest remainders, earlier segments first on ties), evenly
    within each. An open curve with ``ends`` false keeps its end anchors out.
    Returns ``(count,)`` positions and ``(A,)`` the sample index of each anchor (-1: left out)."""
    a = np.asarray(arc_at_anchor, np.float64)
    bounds = np.append(a, a[0] + total) if closed else a
    seg = np.diff(bounds)
    kept = np.arange(len(a)) if (closed or ends) else np.arange(1, len(a) - 1)
    free = count - len(kept)
    if free < 0:
        raise ValueError(f"count {count} is fewer than the {len(kept)} anchors kept")
    share = free * seg / max(seg.sum(), 1e-30)
    per = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - per), kind="stable")
    per[order[: free - per.sum()]] += 1
    pos, index = [], -np.ones(len(a), np.int64)
    for j in range(len(seg)):
        if j in kept:
            index[j] = len(pos)
            pos.append(bounds[j])
        pos += list(bounds[j] + seg[j] * np.arange(1, per[j] + 1) / (per[j] + 1))
    if not closed and ends:
        index[-1] = len(pos)
        pos.append(bounds[-1])
    return np.array(pos), index


def farthest_points(candidates: np.ndarray, positions: np.ndarray, count: int) -> np.ndarray:
    """Deterministic farthest-point sampling: ``count`` ids from ``candidates (N,)`` whose
    ``positions (N, 3)`` spread evenly, starting from the one nearest to their centroid."""
    first = int(np.argmin(np.linalg.norm(positions - positions.mean(axis=0), axis=1)))
    chosen = [first]
    dist = np.linalg.norm(positions - positions[first], axis=1)
    for _ in range(count - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(positions - positions[nxt], axis=1))
    return candidates[np.array(chosen)]
