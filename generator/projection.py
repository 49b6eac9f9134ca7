"""Landmarks of a resolved spec for one posed mesh and camera: 2D pixels, 3D camera coordinates,
visibility. ``project_landmarks`` is the reference, one image from its full posed mesh (the Python
API, ``facegen spec show``). The writer and ``facegen relabel`` label with the batched
``generator/batch_labels.py: BatchLabeler`` instead, which
``tests/generator/test_relabel.py::test_batch_labels_match_project_landmarks`` holds equal to this
module. Renderer backends compute no landmarks; they return the depth map both labelers read.

Pixel convention (``generator/camera.py``): ``(u, v)`` with the origin at the top-left corner of
the top-left pixel; pixel ``(row i, column j)`` has its centre at ``(j + 0.5, i + 0.5)``.

Visibility of each landmark:
- ``out_of_frame``: its pixel lies outside ``[0, W) x [0, H)`` or it is behind the camera;
- ``self_occluded``: in frame, but the rendered surface in front of it is nearer than its own
  depth minus a tolerance (the head hides it: the far cheek, the nose side, the inside of lips);
- ``visible``: neither.

Silhouette groups (jaw line, face oval) also get ``uv_contour``: the 2D point slid along
precomputed candidates (``ResolvedSpec.contour_*``) to where the surface turns away from the
camera, as annotators place jaw points on the visible outline (300W-LP landmark marching).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facegen.generator.camera import Camera
from facegen.generator.zbuffer import rasterize
from facegen.landmark_specs.resolve import CONTOUR_PROBE, ResolvedSpec, resolve_spec
from facegen.landmark_specs.surface import TemplateMesh

DEPTH_TOLERANCE_M = 0.003  # a landmark up to 3 mm behind the rendered surface still counts as visible


@dataclass(frozen=True)
class ProjectedLandmarks:
    """Landmarks of one image (K landmarks of the spec, plus the two pupils)."""

    uv: np.ndarray  # (K, 2) float64 pixels of the fixed surface points ("x-ray": also when hidden)
    cam: np.ndarray  # (K, 3) float64 camera coordinates (OpenCV: x right, y down, z depth), metres
    uv_contour: np.ndarray  # (K, 2) float64 = uv, except silhouette landmarks slid to the visible outline
    cam_contour: np.ndarray  # (K, 3) float64 camera coordinates of the uv_contour points
    visible: np.ndarray  # (K,) bool in frame, not hidden by the head, not occluded
    self_occluded: np.ndarray  # (K,) bool in frame but behind the rendered surface
    out_of_frame: np.ndarray  # (K,) bool outside the image or behind the camera
    pupils_uv: np.ndarray  # (2, 2) float64 left, right pupil pixels (iris centre, follows gaze)
    pupils_cam: np.ndarray  # (2, 3) float64 their camera coordinates
    pupils_visible: np.ndarray  # (2,) bool same test as ``visible`` (closed lids hide them)
    occluded: np.ndarray | None = None  # (K,) bool in frame, not self-occluded, its pixel >= 50% covered
    #                                     by scalp hair or an object (the ``cover`` map)


def template_mesh(model) -> TemplateMesh:
    """The neutral mean head of a ``HeadModel`` as the template specs are resolved on."""
    return TemplateMesh(vertices=model.vertices().astype(np.float64), faces=model.faces.astype(np.int64),
                        regions={n: model.region_mask(n) for n in model.region_names},
                        mirror=model.mirror.astype(np.int64))


def load_spec(name: str, model) -> ResolvedSpec:
    """Resolve a spec (a path, or a shipped name such as ``"490"``) on ``model``'s template.
    Raises ``landmark_specs.spec_file.SpecError`` for a bad spec."""
    return resolve_spec(name, template_mesh(model))


def ibug68_map(spec: ResolvedSpec, model) -> np.ndarray:
    """``(68,)`` int64: the landmark of ``spec`` standing for each iBUG-68 point (protocol (a)).
    A spec that declares all 68 (``ibug68:`` in its YAML) gives its own map; otherwise each point
    of the shipped 68 spec is matched to the nearest landmark of ``spec`` on the neutral template
    (3D distance). The writer and relabel store it with every label set."""
    if len(spec.ibug68) == 68 and (spec.ibug68 >= 0).all():
        return np.asarray(spec.ibug68, np.int64)
    mesh = template_mesh(model)
    ibug = resolve_spec("68", mesh)
    p68 = surface_points(mesh.vertices, mesh.faces, ibug.triangle[ibug.ibug68], ibug.bary[ibug.ibug68])
    pk = surface_points(mesh.vertices, mesh.faces, spec.triangle, spec.bary)
    return np.linalg.norm(p68[:, None] - pk[None], axis=-1).argmin(1).astype(np.int64)


def surface_points(vertices: np.ndarray, faces: np.ndarray, triangle: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Points on a posed mesh: ``(V, 3)`` vertices, ``(F, 3)`` faces, triangle ids ``(...,)`` and
    barycentric weights ``(..., 3)`` -> positions ``(..., 3)`` float64."""
    corners = np.asarray(vertices, np.float64)[faces[triangle]]  # (..., 3, 3)
    return np.einsum("...c,...cd->...d", bary, corners)


def render_depth(vertices: np.ndarray, faces: np.ndarray, camera: Camera) -> np.ndarray:
    """``(H, W)`` float64 depth map (camera z, metres; inf where empty) of the mesh, by the numpy
    rasteriser (screen-space interpolation of depth)."""
    uv, z = camera.project(vertices)
    return rasterize(uv, z, faces, camera.height, camera.width)[0]


def _depth_test(uv: np.ndarray, z: np.ndarray, depth_map: np.ndarray, tolerance: float):
    """``(out_of_frame, self_occluded)`` for points ``uv (N, 2)`` at depths ``z (N,)``."""
    h, w = depth_map.shape
    oof = (uv[:, 0] < 0) | (uv[:, 0] >= w) | (uv[:, 1] < 0) | (uv[:, 1] >= h) | (z <= 0) | ~np.isfinite(uv).all(axis=1)
    # The (up to) four pixel centres around the point; it is hidden only if all are nearer.
    j0 = np.floor(np.nan_to_num(uv[:, 0]) - 0.5).astype(np.int64)
    i0 = np.floor(np.nan_to_num(uv[:, 1]) - 0.5).astype(np.int64)
    nearest_far = np.full(len(z), -np.inf)
    for di in (0, 1):
        for dj in (0, 1):
            ii = np.clip(i0 + di, 0, h - 1)
            jj = np.clip(j0 + dj, 0, w - 1)
            nearest_far = np.maximum(nearest_far, depth_map[ii, jj])
    occluded = ~oof & (z > nearest_far + tolerance)
    return oof, occluded


def _contour_points(spec: ResolvedSpec, vertices: np.ndarray, faces: np.ndarray, camera: Camera) -> np.ndarray:
    """``(S, 3)`` world points where each silhouette landmark's candidate line meets the outline.
    Of its lines (``resolve.CONTOUR_LINES``) the one whose candidate ``CONTOUR_PROBE``
    faces the camera most (the surface turns toward the camera fastest that way); walking it from
    the landmark, the first candidate whose triangle faces the camera (interpolated between it and
    the one before); the landmark itself if it faces the camera."""
    tri, bary = spec.contour_triangle, spec.contour_bary  # (S, D, C), (S, D, C, 3)
    corners = np.asarray(vertices, np.float64)[faces[tri]]  # (S, D, C, 3, 3)
    pts = np.einsum("sdck,sdckx->sdcx", bary, corners)
    normal = np.cross(corners[..., 1, :] - corners[..., 0, :], corners[..., 2, :] - corners[..., 0, :])
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True) + 1e-30
    to_cam = camera.position - pts
    to_cam /= np.linalg.norm(to_cam, axis=-1, keepdims=True)
    facing = (normal * to_cam).sum(axis=-1)  # (S, D, C) > 0: the candidate faces the camera
    line = np.argmax(facing[:, :, CONTOUR_PROBE], axis=1)
    facing, pts = facing[np.arange(len(line)), line], pts[np.arange(len(line)), line]  # (S, C), (S, C, 3)
    front = facing > 0
    k = np.where(front.any(axis=1), np.argmax(front, axis=1), tri.shape[1] - 1)
    rows = np.arange(len(k))
    prev = np.maximum(k - 1, 0)
    fa, fb = facing[rows, prev], facing[rows, k]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where((k > 0) & (fb > fa), -fa / (fb - fa), 1.0)
    t = np.clip(t, 0.0, 1.0)[:, None]
    return (1 - t) * pts[rows, prev] + t * pts[rows, k]


def project_landmarks(spec: ResolvedSpec, vertices: np.ndarray, faces: np.ndarray, camera: Camera,
                      depth_map: np.ndarray | None = None,
                      tolerance: float = DEPTH_TOLERANCE_M, cover: np.ndarray | None = None) -> ProjectedLandmarks:
    """Project a resolved spec's landmarks for a posed mesh seen by ``camera``.

    Args:
        spec: from ``load_spec`` / ``landmark_specs.resolve.resolve_spec`` (resolved once).
        vertices: ``(V, 3)`` posed mesh, world (model) coordinates, metres.
        faces: ``(F, 3)`` the template's triangles (the spec's triangle ids index these).
        camera: the image's camera (``generator.camera.Camera``).
        depth_map: ``(H, W)`` rendered depth (camera z, metres; inf or large where empty) with
            ``H, W = camera.height, camera.width``; ``None`` rasterises one with numpy (slow-ish).
        tolerance: metres a landmark may lie behind the rendered surface and still be visible.
        cover: ``(H, W)`` uint8 coverage by scalp hair and objects (``RenderResult.cover``); a
            landmark whose pixel is >= 128 there is ``occluded``. None: nothing occludes.
    Returns: ``ProjectedLandmarks`` (module docstring for the conventions).
    """
    if depth_map is None:
        depth_map = render_depth(vertices, faces, camera)
    if depth_map.shape != (camera.height, camera.width):
        raise ValueError(f"depth map is {depth_map.shape}, the camera's image {(camera.height, camera.width)}")
    world = surface_points(vertices, faces, spec.triangle, spec.bary)
    cam = camera.to_camera(world)
    uv, z = camera.project(world)
    oof, occ = _depth_test(uv, z, depth_map, tolerance)
    uv_c, cam_c = uv.copy(), cam.copy()
    if len(spec.contour_index):
        cw = _contour_points(spec, vertices, faces, camera)
        uv_c[spec.contour_index] = camera.project(cw)[0]
        cam_c[spec.contour_index] = camera.to_camera(cw)
    pw = surface_points(vertices, faces, spec.pupil_triangle, spec.pupil_bary)
    p_uv, p_z = camera.project(pw)
    p_oof, p_occ = _depth_test(p_uv, p_z, depth_map, tolerance)
    hidden, p_hidden = ~(oof | occ) & covered(uv, cover), ~(p_oof | p_occ) & covered(p_uv, cover)
    return ProjectedLandmarks(uv=uv, cam=cam, uv_contour=uv_c, cam_contour=cam_c, visible=~(oof | occ | hidden),
                              self_occluded=occ, out_of_frame=oof, pupils_uv=p_uv, pupils_cam=camera.to_camera(pw),
                              pupils_visible=~(p_oof | p_occ | p_hidden), occluded=hidden)


def covered(uv: np.ndarray, cover: np.ndarray | None) -> np.ndarray:
    """``(N,)`` bool: the pixel under each point ``uv (N, 2)`` is at least half covered in ``cover``
    (uint8, >= 128); False outside the image and without a map."""
    if cover is None:
        return np.zeros(len(uv), bool)
    h, w = cover.shape
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(uv).all(axis=1)
        j = np.floor(np.where(ok, uv[:, 0], -1.0))
        i = np.floor(np.where(ok, uv[:, 1], -1.0))
    inside = ok & (j >= 0) & (j < w) & (i >= 0) & (i < h)
    return inside & (cover[np.clip(i, 0, h - 1).astype(np.intp), np.clip(j, 0, w - 1).astype(np.intp)] >= 128)
