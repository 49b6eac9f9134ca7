"""Binding a ``SpecDefinition`` to a template mesh: every landmark becomes a (triangle,
barycentric) surface point; flip pairs, the iBUG-68 map, silhouette contour candidates and the
pupils are worked out once, here, so that projecting a posed mesh is a few array operations.

Inputs are plain arrays (``surface.TemplateMesh``); this package never imports the generator.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import numpy as np

from .spec_file import GroupDef, PointDef, SpecDefinition, SpecError, load_spec_definition
from .surface import Surface, TemplateMesh, anchor_arc_positions, farthest_points, resample_polyline

SILHOUETTE_CANDIDATES = 24  # contour candidates per line, from the landmark to the face centre's distance
# A silhouette landmark's candidate lines (seen from the front) run from it to points on the way
# from the midline at its height (0: horizontal, 300W-LP's marching) to the face centre (1); per
# image the line along which the surface turns toward the camera fastest (the highest facing at
# candidate CONTOUR_PROBE) is marched: sideways under yaw, toward the centre under pitch, between
# under both (generator/projection.py).
CONTOUR_LINES = (0.0, 0.25, 0.5, 0.75, 1.0)
CONTOUR_PROBE = 2
FLIP_MIN_TOLERANCE_M = 0.0005  # a mirrored landmark may miss its partner by 35% of the landmark spacing,
FLIP_MAX_TOLERANCE_M = 0.003  # but at least 0.5 mm and at most 3 mm
CONTOUR_SKIP_REGIONS = ("eyeball_left", "eyeball_right", "mouth_interior")  # never on the contour
FLIP_CHUNK = 2 ** 22  # landmark pairs per block of the flip-partner search (memory bound)


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec bound to the template: plain arrays, cheap to apply to any posed mesh (K landmarks)."""

    name: str  # spec name
    file: str  # the top-level spec file
    names: tuple[str, ...]  # (K,) landmark names
    group_names: tuple[str, ...]  # (G,) group names in order
    group_slices: tuple[tuple[int, int], ...]  # (G,) [start, stop) landmark range of each group
    triangle: np.ndarray  # (K,) int64 template triangle of each landmark
    bary: np.ndarray  # (K, 3) float64 barycentric weights in that triangle
    flip: np.ndarray  # (K,) int64 index of the mirror landmark (itself on the midline)
    ibug68: np.ndarray  # (M,) int64 landmark index of each iBUG-68 point, -1 if none; M = 0 if undeclared
    silhouette: np.ndarray  # (K,) bool landmarks whose 2D position slides to the occluding contour
    contour_index: np.ndarray  # (S,) int64 the silhouette landmarks
    contour_triangle: np.ndarray  # (S, L, C) int64 candidates along L lines from the landmark (column 0)
    contour_bary: np.ndarray  # (S, L, C, 3) float64 their barycentric weights
    pupil_triangle: np.ndarray  # (2,) int64 left, right pupil: iris centre on the eyeball surface
    pupil_bary: np.ndarray  # (2, 3) float64
    content_hash: str  # sha256 (16 hex digits) of everything above except file

    @property
    def n_landmarks(self) -> int:
        return len(self.names)

    def group_of(self) -> np.ndarray:
        """``(K,)`` int64 group index of each landmark."""
        out = np.empty(self.n_landmarks, np.int64)
        for g, (a, b) in enumerate(self.group_slices):
            out[a:b] = g
        return out


def _point(surface: Surface, p: PointDef) -> tuple[int, np.ndarray]:
    n_v, n_f = len(surface.v), len(surface.f)
    if p.vertex is not None:
        if p.vertex >= n_v:
            raise SpecError(p.file, p.where, f"unknown vertex id {p.vertex} (the template has {n_v} vertices)")
        return surface.vertex_point(p.vertex)
    if p.triangle >= n_f:
        raise SpecError(p.file, p.where, f"unknown triangle id {p.triangle} (the template has {n_f} triangles)")
    return p.triangle, np.asarray(p.bary, np.float64) / sum(p.bary)


def _region_mask(mesh: TemplateMesh, name: str, file: str, where: str) -> np.ndarray:
    if name not in mesh.regions:
        raise SpecError(file, where, f"unknown region {name!r} (template regions: {', '.join(mesh.regions)})")
    return np.asarray(mesh.regions[name], bool)


def _curve(surface: Surface, g: GroupDef) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anchors joined by shortest edge paths, then resampled evenly by arc length (or, with
    ``keep_anchors``, through every anchor). Also returns each anchor's sample index (-1: not a
    sample; always -1 without ``keep_anchors``)."""
    kfile, kwhere = g.where["anchors"]
    allowed = None
    if g.through:
        tfile, twhere = g.where["through"]
        allowed = np.zeros(len(surface.v), bool)
        for i, r in enumerate(g.through):
            allowed |= _region_mask(surface.mesh, r, tfile, f"{twhere}[{i}]")
    anchors = [_point(surface, p) for p in g.points]
    pts, seg_tri, seg_bary, anchor_at = [], [], [], []
    order = list(range(len(anchors))) + ([0] if g.closed else [])
    for i, j in zip(order[:-1], order[1:]):
        (ta, ba), (tb, bb) = anchors[i], anchors[j]
        va = int(surface.f[ta][np.argmax(ba)])
        vb = int(surface.f[tb][np.argmax(bb)])
        path = surface.shortest_path(va, vb, allowed)
        if path is None:
            through = f" through {', '.join(g.through)}" if g.through else ""
            raise SpecError(kfile, f"{kwhere}[{j}]", f"anchor is not connected on the surface{through} to anchor {i}")
        pa, pb = surface.point(np.array([ta]), ba[None])[0], surface.point(np.array([tb]), bb[None])[0]
        # anchor -> its nearest vertex, inside the anchor's triangle
        anchor_at.append(len(pts))
        pts.append(pa)
        seg_tri.append(ta)
        seg_bary.append([ba, (surface.f[ta] == va).astype(float)])
        for a, b in zip(path[:-1], path[1:]):
            pts.append(surface.v[a])
            t, bar = surface.segment_points(a, b, np.array([0.0, 1.0]))
            seg_tri.append(t[0])
            seg_bary.append(bar)
        pts.append(surface.v[vb])
        seg_tri.append(tb)
        seg_bary.append([(surface.f[tb] == vb).astype(float), bb])
    if not g.closed:
        anchor_at.append(len(pts))
    pts.append(surface.point(np.array([anchors[order[-1]][0]]), anchors[order[-1]][1][None])[0])
    pts = np.array(pts)
    at, index = None, -np.ones(len(anchors), np.int64)
    if g.keep_anchors:
        cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        try:
            at, index = anchor_arc_positions(cum[anchor_at], cum[-1], g.count, g.closed, g.ends)
        except ValueError as e:
            raise SpecError(*g.where.get("count", g.where["anchors"]), f"keep_anchors: {e}") from None
    tri, bary = resample_polyline(pts, np.array(seg_tri, np.int64), np.array(seg_bary, np.float64), g.count,
                                  g.closed, g.ends, at)
    return tri, bary, index


def _region(surface: Surface, g: GroupDef) -> tuple[np.ndarray, np.ndarray]:
    rfile, rwhere = g.where["region"]
    mask = _region_mask(surface.mesh, g.region, rfile, rwhere).copy()
    if g.box is not None:
        for axis, (lo, hi) in enumerate(g.box):
            mask &= (surface.v[:, axis] >= lo) & (surface.v[:, axis] <= hi)
    cand = np.flatnonzero(mask)
    if len(cand) < g.count:
        raise SpecError(rfile, rwhere, f"region {g.region!r} (inside the box) has {len(cand)} vertices, "
                                      f"fewer than count {g.count}")
    chosen = farthest_points(cand, surface.v[cand], g.count)
    pts = [surface.vertex_point(int(v)) for v in chosen]
    return np.array([p[0] for p in pts], np.int64), np.array([p[1] for p in pts])


def _resolve_groups(surface: Surface, spec: SpecDefinition) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]],
                                                                     dict[str, np.ndarray]]:
    """Group name -> (triangles, bary); and group name -> the sample index of each anchor of a
    ``keep_anchors`` curve (mirror groups: their source's, same order)."""
    by_name = {g.name: g for g in spec.groups}
    done: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    anchor_index: dict[str, np.ndarray] = {}

    def resolve(g: GroupDef, chain: tuple[str, ...]):
        if g.name in done:
            return done[g.name]
        if g.kind == "points":
            pts = [_point(surface, p) for p in g.points]
            out = (np.array([p[0] for p in pts], np.int64), np.array([p[1] for p in pts]))
        elif g.kind == "curve":
            *out, index = _curve(surface, g)
            out = tuple(out)
            if g.keep_anchors:
                anchor_index[g.name] = index
        elif g.kind == "region":
            out = _region(surface, g)
        else:
            mfile, mwhere = g.where["mirror"]
            if g.mirror_of not in by_name:
                raise SpecError(mfile, mwhere, f"unknown group {g.mirror_of!r}")
            if g.mirror_of in chain:
                raise SpecError(mfile, mwhere, f"mirror cycle: {' -> '.join(chain + (g.mirror_of,))}")
            src_t, src_b = resolve(by_name[g.mirror_of], chain + (g.mirror_of,))
            if g.mirror_of in anchor_index:
                anchor_index[g.name] = anchor_index[g.mirror_of]
            try:
                out = surface.mirror_points(src_t, src_b)
            except KeyError:
                raise SpecError(mfile, mwhere, "the template's mirror map has no mirror triangle for a point") from None
        done[g.name] = out
        return out

    for g in spec.groups:
        resolve(g, (g.name,))
    return done, anchor_index


def _partner_group(name: str) -> str:
    """``brow_left`` <-> ``brow_right`` (also ``left_``/``right_`` prefixes); else the name itself."""
    swapped = re.sub(r"(^|_)(left|right)($|_)", lambda m: m.group(1) + {"left": "right", "right": "left"}[m.group(2)]
                     + m.group(3), name)
    return swapped


def _expected_partners(spec: SpecDefinition) -> tuple[dict, str, str]:
    """Group -> its mirror group: declared ``flip_pairs``, else by ``_left``/``_right`` names."""
    gnames = [g.name for g in spec.groups]
    if spec.flip_pairs is None:
        expected = {n: (_partner_group(n) if _partner_group(n) in gnames else n) for n in gnames}
        return expected, spec.groups[0].file, "flip_pairs"
    pfile, pwhere = spec.flip_pairs_where
    expected = {n: n for n in gnames}
    for k, (a, b) in enumerate(spec.flip_pairs):
        for side, n in enumerate((a, b)):
            if n not in expected:
                raise SpecError(pfile, f"{pwhere}[{k}][{side}]", f"unknown group {n!r}")
        expected[a], expected[b] = b, a
    return expected, pfile, pwhere


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` Euclidean distances between ``(N, 3)`` points: the squares summed x, y, z
    in that order, as ``np.linalg.norm(a[:, None] - b[None], axis=2)`` does, without its (N, M, 3)
    temporary."""
    d = (a[:, None, 0] - b[None, :, 0]) ** 2
    d += (a[:, None, 1] - b[None, :, 1]) ** 2
    d += (a[:, None, 2] - b[None, :, 2]) ** 2
    return np.sqrt(d)


def _flip(surface: Surface, spec: SpecDefinition, tri, bary, names, group_of) -> np.ndarray:
    """Mirror partner of each landmark, derived from the template's symmetry: the landmark of the
    mirror group nearest to the landmark's mirror image. Checked: the image must lie within a
    tolerance of its partner, and the pairing must be one-to-one."""
    pos = surface.point(tri, bary)
    mpos = surface.point(*surface.mirror_points(tri, bary))
    expected, pfile, pwhere = _expected_partners(spec)
    gnames = [g.name for g in spec.groups]
    partner_gi = np.array([gnames.index(expected[gnames[g]]) for g in group_of])
    k = len(pos)
    flip, nearest = np.empty(k, np.int64), np.empty(k, np.int64)
    miss, nearest_d, spacing = np.empty(k), np.empty(k), np.empty(k)
    rows = max(1, FLIP_CHUNK // k)  # (rows, K) distance blocks: K = 10,000 landmarks stay ~100 MB
    for a in range(0, k, rows):
        b = min(a + rows, k)
        d = _distances(mpos[a:b], pos)  # (rows, K) mirror image of i -> landmark j
        in_partner = group_of[None, :] == partner_gi[a:b, None]  # j is in i's mirror group
        flip[a:b] = np.argmin(np.where(in_partner, d, np.inf), axis=1)
        miss[a:b] = d[np.arange(b - a), flip[a:b]]
        nearest[a:b] = np.argmin(d, axis=1)
        nearest_d[a:b] = d[np.arange(b - a), nearest[a:b]]
        own = _distances(pos[a:b], pos)
        own[np.arange(b - a), np.arange(a, b)] = np.inf
        spacing[a:b] = own.min(axis=1)
    tol = np.clip(0.35 * spacing, FLIP_MIN_TOLERANCE_M, FLIP_MAX_TOLERANCE_M)
    for i in np.flatnonzero(miss > tol):
        g = spec.groups[group_of[i]]
        j = int(nearest[i])
        if nearest_d[i] <= tol[i]:
            raise SpecError(pfile, pwhere, f"wrong flip pair: group {g.name} is paired with {expected[g.name]}, "
                            f"but the mirror image of {names[i]} is {names[j]} (group {gnames[group_of[j]]})")
        raise SpecError(g.file, f"groups.{g.name}", f"landmark {names[i]} has no mirror partner: its mirror image is "
                        f"{miss[i] * 1000:.2f} mm from the nearest landmark {names[flip[i]]} of group "
                        f"{expected[g.name]} (allowed {tol[i] * 1000:.2f} mm); make the spec left/right "
                        "symmetric (a mirror group helps)")
    for i in np.flatnonzero(flip[flip] != np.arange(len(flip))):
        g = spec.groups[group_of[i]]
        raise SpecError(g.file, f"groups.{g.name}", f"flip pairs are not one-to-one: {names[i]} -> {names[flip[i]]} "
                        f"-> {names[flip[flip[i]]]}")
    return flip


def _contour_centre(surface: Surface) -> np.ndarray:
    """``(x, z)`` of the face centre seen from the front: on the midline, halfway between the eye
    centres' height and the mouth's (the eyeballs and lips regions); the template's mean height
    where it has no such regions."""
    regions = surface.mesh.regions
    parts = [np.asarray(regions[r], bool) for r in ("eyeball_left", "eyeball_right", "lips") if r in regions]
    if len(parts) < 3 or not all(p.any() for p in parts):
        return np.array([0.0, float(surface.v[:, 2].mean())])
    eyes = 0.5 * (surface.v[parts[0], 2].mean() + surface.v[parts[1], 2].mean())
    return np.array([0.0, 0.5 * (eyes + surface.v[parts[2], 2].mean())])


def _contours(surface: Surface, tri, bary, sil_index) -> tuple[np.ndarray, np.ndarray]:
    """For each silhouette landmark: ``SILHOUETTE_CANDIDATES`` candidates on the frontal surface
    along each of its ``CONTOUR_LINES`` (seen from the front), starting at the landmark (column 0)
    and ending on the way from the midline at its height to the face centre (``_contour_centre``).
    Where a frontal ray misses, the previous candidate repeats."""
    n_c, share = SILHOUETTE_CANDIDATES, np.asarray(CONTOUR_LINES)
    out_t = np.zeros((len(sil_index), len(share), n_c), np.int64)
    out_b = np.zeros((len(sil_index), len(share), n_c, 3))
    if not len(sil_index):
        return out_t, out_b
    skip = np.zeros(len(surface.v), bool)
    for r in CONTOUR_SKIP_REGIONS:
        skip |= np.asarray(surface.mesh.regions.get(r, np.zeros(len(surface.v), bool)), bool)
    face_mask = ~skip[surface.f].any(axis=1)
    pos = surface.point(tri[sil_index], bary[sil_index])[:, [0, 2]]  # (S, 2) frontal x, z
    midline = np.stack([np.zeros(len(pos)), pos[:, 1]], axis=1)
    ends = midline[:, None] + share[None, :, None] * (_contour_centre(surface) - midline)[:, None]  # (S, L, 2)
    step = np.arange(1, n_c) / (n_c - 1)
    xz = pos[:, None, None] + step[None, None, :, None] * (ends - pos[:, None])[:, :, None]  # (S, L, C - 1, 2)
    ht, hb = surface.frontal_hits(xz.reshape(-1, 2), face_mask)
    ht, hb = ht.reshape(*xz.shape[:3]), hb.reshape(*xz.shape[:3], 3)
    for s, k in enumerate(sil_index):
        out_t[s, :, 0], out_b[s, :, 0] = tri[k], bary[k]
        for line in range(len(share)):
            for c in range(1, n_c):
                if ht[s, line, c - 1] >= 0:
                    out_t[s, line, c], out_b[s, line, c] = ht[s, line, c - 1], hb[s, line, c - 1]
                else:
                    out_t[s, line, c], out_b[s, line, c] = out_t[s, line, c - 1], out_b[s, line, c - 1]
    return out_t, out_b


def _pupils(surface: Surface, file: str) -> tuple[np.ndarray, np.ndarray]:
    """Where the ray from each eyeball centre straight ahead (-y) leaves the eyeball: the iris centre."""
    tris, barys = [], []
    for eye in ("eyeball_left", "eyeball_right"):
        mask = _region_mask(surface.mesh, eye, file, "pupils")
        centre = surface.v[mask].mean(axis=0)
        t, b = surface.frontal_hits(centre[[0, 2]][None], mask[surface.f].all(axis=1))
        if t[0] < 0:
            raise SpecError(file, "pupils", f"no {eye} surface in front of its centre")
        tris.append(t[0])
        barys.append(b[0])
    return np.array(tris, np.int64), np.array(barys)


def _hash(parts: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(parts):
        v = parts[key]
        h.update(key.encode())
        if isinstance(v, np.ndarray):
            h.update(str(v.dtype).encode() + str(v.shape).encode())
            h.update(np.ascontiguousarray(np.round(v, 12) if v.dtype.kind == "f" else v).tobytes())
        else:
            h.update(json.dumps(v).encode())
    return h.hexdigest()[:16]


def resolve_spec(spec: SpecDefinition | str, mesh: TemplateMesh) -> ResolvedSpec:
    """Bind a spec (a definition, or a file path / shipped name) to the template ``mesh``."""
    if not isinstance(spec, SpecDefinition):
        spec = load_spec_definition(spec)
    surface = Surface(mesh)
    per_group, anchor_index = _resolve_groups(surface, spec)
    names, tris, barys, slices, sil, group_of = [], [], [], [], [], []
    for gi, g in enumerate(spec.groups):
        t, b = per_group[g.name]
        start = len(names)
        for i in range(len(t)):
            explicit = g.points[i].name if g.kind == "points" else None
            names.append(explicit or f"{g.name}_{i}")
        tris.append(t)
        barys.append(b)
        slices.append((start, len(names)))
        sil += [g.silhouette] * len(t)
        group_of += [gi] * len(t)
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            g = spec.groups[group_of[i]]
            raise SpecError(g.file, f"groups.{g.name}", f"duplicate landmark name {n!r}")
        seen[n] = i
    tri, bary = np.concatenate(tris), np.concatenate(barys)
    group_of = np.array(group_of)
    gnames = [g.name for g in spec.groups]
    ibug = []
    ifile, iwhere = spec.ibug68_where
    for k, entry in enumerate(spec.ibug68):
        if entry is None:
            ibug.append(-1)
        elif entry in seen:
            ibug.append(seen[entry])
        elif entry in gnames:
            a, b = slices[gnames.index(entry)]
            ibug += list(range(a, b))
        elif re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*@[0-9]{1,4}", entry):
            group, k_anchor = entry.split("@")
            if group not in anchor_index:
                raise SpecError(ifile, f"{iwhere}[{k}]", f"{entry!r}: {group!r} is not a curve group with "
                                "keep_anchors: true")
            index = anchor_index[group]
            if int(k_anchor) >= len(index) or index[int(k_anchor)] < 0:
                raise SpecError(ifile, f"{iwhere}[{k}]", f"{entry!r}: {group!r} has no anchor {k_anchor} among "
                                f"its samples ({len(index)} anchors; ends: false leaves out the end ones)")
            ibug.append(slices[gnames.index(group)][0] + int(index[int(k_anchor)]))
        else:
            raise SpecError(ifile, f"{iwhere}[{k}]", f"unknown landmark or group {entry!r}")
    flip = _flip(surface, spec, tri, bary, names, group_of)
    silhouette = np.array(sil, bool)
    sil_index = np.flatnonzero(silhouette)
    c_tri, c_bary = _contours(surface, tri, bary, sil_index)
    p_tri, p_bary = _pupils(surface, spec.file)
    arrays = dict(triangle=tri, bary=bary, flip=flip.astype(np.int64), ibug68=np.array(ibug, np.int64),
                  silhouette=silhouette, contour_index=sil_index.astype(np.int64), contour_triangle=c_tri,
                  contour_bary=c_bary, pupil_triangle=p_tri, pupil_bary=p_bary)
    for a in arrays.values():
        a.setflags(write=False)
    digest = _hash({**arrays, "name": spec.name, "names": names, "groups": gnames, "slices": slices})
    return ResolvedSpec(name=spec.name, file=spec.file, names=tuple(names), group_names=tuple(gnames),
                        group_slices=tuple(slices), content_hash=digest, **arrays)
