"""The pinhole camera shared by every backend, the writer and relabelling.

Conventions (OpenCV): camera coordinates x right, y down, z forward (depth); pixel coordinates
``(u, v)`` in pixels with the origin at the top-left corner of the top-left pixel, so pixel
``(row i, column j)`` covers ``[j, j+1) x [i, i+1)`` and has its centre at ``(j + 0.5, i + 0.5)``.
World coordinates are the head model's (metres, x = subject's left, y = back, z = up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facegen.generator.scene import CameraParams


@dataclass(frozen=True)
class Camera:
    """Intrinsics and extrinsics of one image."""

    K: np.ndarray  # (3, 3) float64 intrinsics: fx, fy (= fx), cx, cy in pixels
    R: np.ndarray  # (3, 3) float64 world -> camera rotation
    t: np.ndarray  # (3,) float64 world -> camera translation: x_cam = R @ x_world + t
    width: int  # image width, pixels
    height: int  # image height, pixels

    @property
    def position(self) -> np.ndarray:
        """(3,) camera centre in world coordinates."""
        return -self.R.T @ self.t

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """``(N, 3)`` world points -> ``(N, 3)`` camera coordinates (z = depth, metres)."""
        return points @ self.R.T + self.t

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(N, 3)`` world points -> ``(N, 2)`` float64 pixels (module conventions) and ``(N,)``
        depth in metres along the optical axis."""
        cam = self.to_camera(np.asarray(points, np.float64))
        z = cam[:, 2]
        uv = cam[:, :2] / z[:, None] * self.K[0, 0] + self.K[:2, 2]
        return uv, z


def face_centre(vertices: np.ndarray, eye_left: np.ndarray, eye_right: np.ndarray, lips: np.ndarray) -> np.ndarray:
    """The point cameras aim at: halfway between the eyes' midpoint and the lips' centre.

    Args: posed vertices ``(V, 3)`` and index arrays of the left/right eyeball and lips regions.
    """
    eyes = 0.5 * (vertices[eye_left].mean(axis=0) + vertices[eye_right].mean(axis=0))
    return 0.5 * (eyes + vertices[lips].mean(axis=0))


def look_at(position: np.ndarray, target: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    """World -> camera rotation (OpenCV axes) of a camera at ``position`` looking at ``target``
    with world +z up in the image, then rolled by ``roll_deg`` about the viewing axis."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-9:  # looking straight up or down
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward])
    a = np.radians(roll_deg)
    roll = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    return roll @ rot


def lens_direction(params: CameraParams) -> np.ndarray:
    """(3,) unit vector from the look-at point toward the camera, world axes (azimuth about the
    vertical axis, 0 in front (-y); elevation above the horizon)."""
    az, el = np.radians(params.azimuth_deg), np.radians(params.elevation_deg)
    return np.array([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)])


def make_camera(params: CameraParams, centre: np.ndarray, width: int, height: int) -> Camera:
    """The camera of ``params`` for an image of ``width x height`` aimed at ``centre`` (+ offset)."""
    target = np.asarray(centre, np.float64) + np.asarray(params.target_offset_m, np.float64)
    position = target + params.distance_m * lens_direction(params)
    rot = look_at(position, target, params.roll_deg)
    fx = params.focal_length_mm / params.sensor_width_mm * width
    cx = width / 2.0 + params.principal_point_offset[0] * width
    cy = height / 2.0 + params.principal_point_offset[1] * width
    K = np.array([[fx, 0.0, cx], [0.0, fx, cy], [0.0, 0.0, 1.0]])
    return Camera(K=K, R=rot, t=-rot @ position, width=int(width), height=int(height))


def scene_camera(model, scene, vertices: np.ndarray, width: int, height: int) -> Camera:
    """The camera of a ``SceneParams`` for its posed ``vertices`` (from ``HeadModel``)."""
    regions = [np.flatnonzero(model.region_mask(n)) for n in ("eyeball_left", "eyeball_right", "lips")]
    return make_camera(scene.camera, face_centre(vertices, *regions), width, height)
