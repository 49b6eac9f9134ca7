"""The ``raster`` backend: pyrender (OpenGL) PBR shading of the head mesh, fast on a plain CPU.

One pass gives all three outputs: RGB from pyrender's metallic-roughness shader, depth from its
depth buffer, and segmentation from the alpha channel, which carries a per-class code (the faces
of each class have their own vertices, whose colour alpha is the code; pyrender's shader writes
``alpha = vertex colour alpha x material alpha``).
The scene and the GL buffers are built once per instance; per sample only vertex data (one
``glBufferSubData``), material factors, light/camera poses and the background colour change.
Camera: pyrender's IntrinsicsCamera takes OpenCV's fx, fy, cx, cy unchanged (its cy counts from
the top and NDC -1..1 spans pixel edges, as Camera's corner origin); its pose is camera-to-world
in OpenGL axes, ``[R^T diag(1, -1, -1) | camera centre]``.
Not modelled (left to cycles): shadows, light size, environment maps and their rotation, textured
skin, brows, beard and hair strands, background gradient/noise/image kinds (drawn in the base
colour) and occluders.

GL platform: ``PYOPENGL_PLATFORM`` must be set before PyOpenGL is imported, so it is chosen at
import of this module unless the user set it. Found here (Debian 12, Mesa 22.3 llvmpipe, no X):
EGL works through the EGL device extension (the default display does not initialise without X),
~6 ms for a 256x256 sphere; OSMesa also works (no multisampling, slower here with several draw
calls) but needs ``apt-get install libosmesa6``. ``pyrender`` comes from the ``pyrender2`` package
(the ``raster`` extra), which requires ``PyOpenGL>=3.1.9``: PyOpenGL 3.1.0, upstream pyrender's
pin, has no OSMesa context call pyrender can use and reaches GL through libGL (GLX) under EGL.
EGL first, OSMesa fallback.
"""

from __future__ import annotations

import colorsys
import ctypes
import ctypes.util
import os


def _egl_works() -> bool:
    """Whether an EGL device display initialises (what pyrender's EGL platform uses)."""
    try:
        egl = ctypes.CDLL(ctypes.util.find_library("EGL") or "libEGL.so.1")
        egl.eglGetProcAddress.restype = ctypes.c_void_p
        query, get_display = (egl.eglGetProcAddress(n) for n in (b"eglQueryDevicesEXT", b"eglGetPlatformDisplayEXT"))
        if not query or not get_display:
            return False
        n = ctypes.c_int32()
        query = ctypes.CFUNCTYPE(ctypes.c_uint, ctypes.c_int32, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32))(query)
        if not query(0, None, ctypes.byref(n)) or n.value < 1:
            return False
        devices = (ctypes.c_void_p * n.value)()
        query(n.value, devices, ctypes.byref(n))
        get_display = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p)(get_display)
        display = get_display(0x313F, devices[0], None)  # EGL_PLATFORM_DEVICE_EXT
        egl.eglInitialize.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        return bool(display) and bool(egl.eglInitialize(display, None, None))
    except (OSError, AttributeError):
        return False


if "PYOPENGL_PLATFORM" not in os.environ:  # must precede the first import of OpenGL
    os.environ["PYOPENGL_PLATFORM"] = "egl" if _egl_works() else "osmesa"

import numpy as np  # noqa: E402
import pyrender  # noqa: E402
from OpenGL import GL  # noqa: E402

from facegen.generator import appearance  # noqa: E402
from facegen.generator.appearance import PUPIL, iris_rgb, temperature_rgb  # noqa: E402
from facegen.generator.backends import RenderResult  # noqa: E402
from facegen.generator.camera import face_centre  # noqa: E402
from facegen.generator.head_model import HeadModel, vertex_normals  # noqa: E402
from facegen.generator import body, occluders  # noqa: E402
from facegen.generator.mouth_parts import MouthParts  # noqa: E402
from facegen.generator.zbuffer import in_front  # noqa: E402
from facegen.generator.segmentation import CLASSES, face_classes, vertex_classes  # noqa: E402

# Alpha code of class i (background: the clear alpha 0). Multisampling averages 4 samples where
# classes meet; these codes (greedy smallest) are such that no 1/4, 1/2 or 3/4 blend of two codes
# rounds to a third, so a pixel whose alpha equals a code is unmixed.
CODES = np.array([0, 7, 18, 40, 58, 84, 120, 186, 193, 204])
_NEAREST = 1 + np.abs(np.arange(256)[:, None] - CODES[1:]).argmin(axis=1).astype(np.uint8)  # alpha -> class
_PURE = np.isin(np.arange(256), CODES[1:])  # alpha -> is an unmixed code
# Light and ambient scale: pyrender intensity per watt of LightParams.power_w, and ambient
# radiance per unit of environment_strength (chosen so that default scenes expose well).
# Lights are then scaled by (REFERENCE_IRRADIANCE / sum of power / distance^2) ** EXPOSURE_COMPRESSION,
# a partial auto-exposure: the sampled 100x range of light at the face becomes ~10x.
WATTS_TO_INTENSITY, REFERENCE_IRRADIANCE, EXPOSURE_COMPRESSION = 0.04, 100.0, 0.5
AMBIENT = {"sky": (0.30, 0.34, 0.42), "gradient": (0.36, 0.34, 0.32), "uniform": (0.35, 0.35, 0.35)}
Z_NEAR, Z_FAR = 0.05, 20.0  # clip planes, metres
MOUTH_PART_RGB = {"upper_teeth": (0.85, 0.82, 0.72), "lower_teeth": (0.85, 0.82, 0.72), "tongue": (0.7, 0.3, 0.3)}


def _facing(verts: np.ndarray, faces: np.ndarray, eye: np.ndarray) -> np.ndarray:
    """``(T,)`` |cos| of the angle between each triangle's normal and the direction to ``eye``."""
    tri = verts[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    view = eye - tri.mean(axis=1)
    return np.abs((normal * view).sum(1)) / (np.linalg.norm(normal, axis=1) * np.linalg.norm(view, axis=1) + 1e-12)


class Renderer:
    """pyrender renderer of the head model; ``render(scene, vertices, camera) -> RenderResult``.

    ``model`` is the HeadModel whose posed vertices are passed to ``render`` (default: the shipped
    one); ``max_lights`` is how many of a scene's lights are drawn. ``self.scene`` is the pyrender
    scene (extra nodes added to it are drawn too).
    """

    def __init__(self, model: HeadModel | None = None, max_lights: int = 3):
        self.model = model = model or HeadModel.load()
        self.faces = model.faces.astype(np.int64)
        name = model.region_names.index
        self._centre_regions = [np.flatnonzero(model.regions == name(n)) for n in ("eyeball_left", "eyeball_right", "lips")]
        self._region = {n: model.regions == name(n) for n in model.region_names}
        self._iris, self._pupil = appearance.iris_masks(model)
        self._albedo_of = appearance.Albedo(model)
        # Two primitives (glossy eyes, the rest); the faces of each class get their own vertex copies
        # whose colour alpha is the class code. The scalp counts as hair; its code follows scalp_hair.
        # Every top is drawn with a crew neckline (the classes are fixed per vertex copy; README).
        self._garment = appearance.garment_mask(model, "crew")
        cls = face_classes(self.faces, vertex_classes(model.region_names, model.regions, True, garment=self._garment))
        self.scene = pyrender.Scene(bg_color=(0, 0, 0, 0), ambient_light=(0.3, 0.3, 0.3))
        self._prims, self._materials, self._gather, self._vclass = [], [], [], []
        rest = model.mean[: 3 * model.n_vertices].reshape(-1, 3).astype(np.float32)
        eyes = CLASSES.index("eyes")
        for group in ([eyes], [c for c in np.unique(cls) if c != eyes]):
            used, tris, vclass = [], [], []
            for c in group:
                u, local = np.unique(self.faces[cls == c], return_inverse=True)
                tris.append(local.reshape(-1, 3) + sum(len(x) for x in used))
                used.append(u)
                vclass.append(np.full(len(u), c))
            used = np.concatenate(used)
            mat = pyrender.MetallicRoughnessMaterial(metallicFactor=0.0, roughnessFactor=0.5)  # back faces culled
            self._prims.append(pyrender.Primitive(positions=rest[used], normals=np.zeros_like(rest[used]),
                                                  color_0=np.ones((len(used), 4), np.float32),
                                                  indices=np.concatenate(tris), material=mat))
            self._materials.append(mat)
            self._gather.append(used)
            self._vclass.append(np.concatenate(vclass))
        # The arms and trunk below the bust (generator/body.py), in the top's colour, class clothing.
        ext = body.extension(rest, self.faces)
        self._body_prim = pyrender.Primitive(positions=ext.vertices.astype(np.float32),
                                             normals=np.zeros_like(ext.vertices, np.float32),
                                             color_0=np.ones((len(ext.vertices), 4), np.float32),
                                             indices=ext.faces, material=self._materials[1])
        self.scene.add(pyrender.Mesh(self._prims + [self._body_prim]))
        self._lights = [self.scene.add(pyrender.PointLight(intensity=0.0)) for _ in range(max_lights)]
        self._cam_node = self.scene.add(pyrender.IntrinsicsCamera(1, 1, 0, 0, Z_NEAR, Z_FAR))
        self._gl = None  # pyrender.OffscreenRenderer of the last image size
        self._occluder_layout = occluders.OccluderLayout(model)
        self._mouth = MouthParts(model)

    def _albedo(self, scene) -> np.ndarray:
        """``(V, 4)`` float32 linear per-vertex albedo (alpha 1, replaced by the class code) of a
        SceneParams."""
        rgb = self._albedo_of.albedo(scene, garment=self._garment)
        rgb[self._iris] = iris_rgb(scene.eyes.iris_color, scene.eyes.iris_brightness)
        rgb[self._pupil] = PUPIL
        return np.concatenate([appearance.linear(rgb), np.ones((len(rgb), 1))], axis=1).astype(np.float32)

    def _update(self, scene, vertices: np.ndarray, camera) -> None:
        """Write one sample into the pyrender scene and the GL vertex buffers."""
        v = np.asarray(vertices, np.float32)
        data = np.concatenate([v, vertex_normals(v, self.faces), self._albedo(scene)], axis=1).astype(np.float32)
        codes = CODES / 255.0
        if not scene.hair.scalp_hair:
            codes = codes.copy()
            codes[CLASSES.index("hair")] = codes[CLASSES.index("skin")]
        self._gl._platform.make_current()  # the vertex buffers live in the renderer's context
        for prim, used, vclass in zip(self._prims, self._gather, self._vclass):
            block = data[used]  # layout: position 3, normal 3, color_0 4 (alpha: class code)
            block[:, 9] = codes[vclass]
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, prim._buffers[0])
            GL.glBufferSubData(GL.GL_ARRAY_BUFFER, 0, block.nbytes, block)
        ext = body.extension(v, self.faces)
        block = np.concatenate([ext.vertices, vertex_normals(ext.vertices, ext.faces), data[ext.source, 6:]], axis=1)
        block[:, 9] = codes[CLASSES.index("clothing")]
        block = block.astype(np.float32)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self._body_prim._buffers[0])
        GL.glBufferSubData(GL.GL_ARRAY_BUFFER, 0, block.nbytes, block)
        self._materials[0].roughnessFactor = 0.15  # eyes: wet and glossy
        self._materials[1].roughnessFactor = scene.skin.roughness
        light = scene.lighting
        self.scene.ambient_light = np.array(AMBIENT[light.environment]) * light.environment_strength
        centre = face_centre(v, *self._centre_regions)
        lights = light.lights[: len(self._lights)]
        irradiance = max(sum(lp.power_w / lp.distance_m ** 2 for lp in lights), 1e-6)  # W/m^2-ish at the face
        gain = WATTS_TO_INTENSITY * (REFERENCE_IRRADIANCE / irradiance) ** EXPOSURE_COMPRESSION
        for i, node in enumerate(self._lights):
            node.light.intensity = lights[i].power_w * gain if i < len(lights) else 0.0
            if i < len(lights):
                az, el = np.radians(lights[i].azimuth_deg), np.radians(lights[i].elevation_deg)
                pose = np.eye(4)
                pose[:3, 3] = centre + lights[i].distance_m * np.array([np.sin(az) * np.cos(el),
                                                                        -np.cos(az) * np.cos(el), np.sin(el)])
                node.light.color = temperature_rgb(lights[i].temperature_k)
                self.scene.set_pose(node, pose)
        bg = scene.background
        self.scene.bg_color = (*colorsys.hsv_to_rgb(*bg.hsv), 0.0)
        # OpenCV camera (x right, y down, z forward) -> OpenGL camera-to-world (x right, y up, z back).
        cam = self._cam_node.camera
        cam.fx, cam.fy, cam.cx, cam.cy = camera.K[0, 0], camera.K[1, 1], camera.K[0, 2], camera.K[1, 2]
        pose = np.eye(4)
        pose[:3, :3] = camera.R.T @ np.diag([1.0, -1.0, -1.0])
        pose[:3, 3] = camera.position
        self.scene.set_pose(self._cam_node, pose)

    def render(self, scene, vertices: np.ndarray, camera, segmentation: bool = True, depth: bool = True) -> RenderResult:
        """Render ``(V, 3)`` posed vertices of ``scene`` (SceneParams) seen by ``camera`` (Camera)
        at ``camera.width x camera.height``. RGB and classes average 4 multisamples around each
        pixel centre; depth (and so which pixels are background) is one multisample, on Mesa's
        llvmpipe 0.4 px from the centre ((-0.125, +0.375) px in image axes). OSMesa does not
        multisample: everything is sampled at pixel centres, without antialiasing."""
        w, h = camera.width, camera.height
        if self._gl is None or (self._gl.viewport_width, self._gl.viewport_height) != (w, h):
            self.close()  # a new size gets a new context (OSMesa cannot resize one)
            self._gl = pyrender.OffscreenRenderer(w, h)
            self._gl.render(self.scene)  # uploads the vertex buffers that _update overwrites
        self._update(scene, vertices, camera)
        rgba, z = self._gl.render(self.scene, pyrender.RenderFlags.RGBA)
        if rgba.shape[2] == 3:  # OSMesa: no framebuffer objects (and no multisampling), RGB only
            self._gl._platform.make_current()
            GL.glReadBuffer(GL.GL_FRONT)
            alpha = np.frombuffer(GL.glReadPixels(0, 0, w, h, GL.GL_ALPHA, GL.GL_UNSIGNED_BYTE), np.uint8)
            rgba = np.dstack([rgba, alpha.reshape(h, w)[::-1]])
        hit = z > 0
        seg = self._decode(rgba[..., 3], hit) if segmentation else None
        head_depth = np.where(hit, z, np.inf).astype(np.float32)
        rgb, cover = self._draw_mouth(np.ascontiguousarray(rgba[..., :3]), vertices, camera, head_depth), None
        for world, faces, colours in self._held(scene, vertices, camera):  # each over the image from its own z-buffer
            rgb, held = self._draw_in_front(rgb, world, faces, colours, camera, head_depth)
            cover = np.maximum(cover if cover is not None else 0, np.where(held, 255, 0)).astype(np.uint8)
            if seg is not None:
                seg[held] = CLASSES.index("occluder")
        if scene.occluders.glasses != "none":  # drawn over the image from their own z-buffer
            glasses = occluders.glasses_mesh(self._occluder_layout, vertices, scene.occluders)
            frame, lens = occluders.glasses_cover(glasses, camera, head_depth)
            rgb = occluders.composite_glasses(rgb, frame, lens, scene.occluders)
            hidden = occluders.occluding(scene.occluders, frame, lens)
            cover = np.maximum(cover if cover is not None else 0, np.where(hidden, 255, 0)).astype(np.uint8)
            if seg is not None:
                seg[hidden] = CLASSES.index("occluder")
        return RenderResult(rgb=rgb, segmentation=seg, depth=head_depth if depth else None, cover=cover)

    def _held(self, scene, vertices, camera) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The scene's held object and hand as (world vertices, triangles, sRGB per triangle)."""
        out = []
        if scene.occluders.object != "none":
            verts, faces, colours = occluders.load_objects()[scene.occluders.object]
            m = occluders.object_transform(self._occluder_layout, vertices, scene.occluders, camera.position)
            out.append((verts @ m[:3, :3].T + m[:3, 3], faces, colours))
        if scene.hands.hand != "none":
            verts, faces = occluders.hand_mesh(self._occluder_layout, vertices, scene.hands)
            out.append((verts, faces, np.tile(appearance.skin_rgb(scene.skin.tone), (len(faces), 1))))
        return out

    @staticmethod
    def _draw_in_front(rgb, world, faces, colours, camera, head_depth) -> tuple[np.ndarray, np.ndarray]:
        """A mesh where it is in front of the head, its triangle colours shaded by facing; returns
        the image and where the mesh is drawn (its cover)."""
        mask, face_id = in_front(world, faces, camera, head_depth)
        out = rgb.astype(np.float32)
        if mask.any():
            facing = _facing(world, faces, camera.position)
            out[mask] = colours[face_id[mask]] * 255 * (0.35 + 0.65 * facing[face_id[mask]])[:, None]
        return np.clip(out, 0, 255).astype(np.uint8), mask

    def _draw_mouth(self, rgb: np.ndarray, vertices: np.ndarray, camera, head_depth: np.ndarray) -> np.ndarray:
        """Teeth and tongue where they are nearer than the head (through the open mouth), from
        their own z-buffer, shaded by how much each triangle faces the camera."""
        out = rgb.astype(np.float32)
        for part, (verts, faces) in self._mouth.posed(vertices).items():
            mask, face_id = in_front(verts, faces, camera, head_depth)
            if not mask.any():
                continue
            facing = _facing(verts, faces, camera.position)
            colour = np.array(MOUTH_PART_RGB[part], np.float32) * 255
            out[mask] = colour * (0.35 + 0.65 * facing[face_id[mask]])[:, None]
        return np.clip(out, 0, 255).astype(np.uint8)

    @staticmethod
    def _decode(alpha: np.ndarray, hit: np.ndarray) -> np.ndarray:
        """``(H, W) uint8`` class ids from ``(H, W) uint8`` alpha codes where ``hit``; pixels with a
        blend of codes (class or silhouette edges) take the class of an unmixed 8-neighbour."""
        lab, trusted = _NEAREST[alpha], _PURE[alpha] & hit
        h, w = lab.shape
        for _ in range(3):
            ys, xs = np.nonzero(hit & ~trusted)
            if not len(ys):
                break
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
                ny, nx = np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)
                ok = trusted[ny, nx] & ~trusted[ys, xs]
                lab[ys[ok], xs[ok]] = lab[ny[ok], nx[ok]]
                trusted[ys[ok], xs[ok]] = True
        return np.where(hit, lab, 0).astype(np.uint8)

    def close(self) -> None:
        """Free the GL context. Under EGL pyrender also terminates the EGL display, which all
        contexts of the process share: close the process's instances together, at the end."""
        if self._gl is not None:
            self._gl.delete()
            self._gl = None
