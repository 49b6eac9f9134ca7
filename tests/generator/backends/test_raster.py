"""The raster (pyrender) backend against the numpy camera model and rasteriser.

Skips when pyrender or an OpenGL platform (EGL or OSMesa) is missing.
"""

from __future__ import annotations

import colorsys
import dataclasses
import itertools

import numpy as np
import pytest

pytest.importorskip("pyrender")
raster = pytest.importorskip("facegen.generator.backends.raster")

from facegen.generator import body  # noqa: E402
from facegen.generator.camera import scene_camera  # noqa: E402
from facegen.generator.config import load_scene_config  # noqa: E402
from facegen.generator.head_model import Expression, Gaze, HeadModel, HeadPose  # noqa: E402
from facegen.generator.zbuffer import rasterize  # noqa: E402
from facegen.generator.samplers import sample_scene  # noqa: E402
from facegen.generator.segmentation import CLASSES  # noqa: E402

SIZE = 192
INDICES = (0, 1, 2, 3, 5)
# The standard 4x multisample positions (GL's (0.375, 0.125), ... from the pixel's lower-left
# corner) as (du, dv) offsets from the pixel centre, image axes (v down).
# The pixel centre comes last: it is where OSMesa, which does not multisample, samples.
SAMPLE_OFFSETS = ((-0.125, 0.375), (0.375, 0.125), (-0.375, -0.125), (0.125, -0.375), (0.0, 0.0))


@pytest.fixture(scope="module")
def model():
    return HeadModel.load()


@pytest.fixture(scope="module")
def renderer(model):
    import pyrender

    try:  # a GL context is the one thing that may be missing here
        pyrender.OffscreenRenderer(8, 8).delete()
    except Exception as exc:  # noqa: BLE001 (any platform failure means: no GL here)
        pytest.skip(f"no OpenGL platform for pyrender: {exc}")
    r = raster.Renderer(model)
    yield r
    r.close()


@pytest.fixture(scope="module")
def cfg():
    return load_scene_config()


def _sample(model, cfg, index, size=SIZE):
    """A sampled scene without glasses, objects or hands (the checks compare with the head mesh alone)."""
    from facegen.generator.scene import NO_HANDS, NO_OCCLUDERS

    scene = dataclasses.replace(sample_scene(cfg, 11, index), occluders=NO_OCCLUDERS, hands=NO_HANDS)
    verts = model.scene_vertices(scene)
    return scene, verts, scene_camera(model, scene, verts, size, size)


def _reference(model, verts, camera, offset=(0.0, 0.0)):
    """Numpy z-buffer of the projected mesh sampled at pixel centre + ``offset`` (pixels):
    ``(H, W)`` camera-z (inf = empty) and face ids. It interpolates -1/z, which is linear in
    the image (perspective-correct), and converts back."""
    whole, faces = body.with_body(verts, model.faces)  # the bust and the arms and trunk below it
    uv, z = camera.project(whole)
    inv, fid, _ = rasterize(uv - np.asarray(offset), -1.0 / z, faces, camera.height, camera.width)
    dmap = np.where(fid >= 0, -1.0 / inv, np.inf)
    return dmap, fid


@pytest.mark.parametrize("index", INDICES)
def test_silhouette_and_depth_match_numpy_projection(renderer, model, cfg, index):
    scene, verts, camera = _sample(model, cfg, index, size=256)
    res = renderer.render(scene, verts, camera)
    _, fid = _reference(model, verts, camera)
    ref = fid >= 0
    for mask in (res.segmentation > 0, np.isfinite(res.depth)):
        iou = (mask & ref).sum() / (mask | ref).sum()
        assert iou >= 0.99, f"silhouette IoU {iou:.4f}"
    # pyrender resolves depth (and so the hit mask) from one of the 4 multisamples (llvmpipe: the
    # first, 0.4 px from the pixel centre; OSMesa: the centre): it must equal the reference there.
    errors = []
    for offset in SAMPLE_OFFSETS:
        dmap_s, fid_s = _reference(model, verts, camera, offset)
        both = np.isfinite(dmap_s) & np.isfinite(res.depth)
        err = np.abs(res.depth[both] - dmap_s[both])
        errors.append(np.median(err))
        if np.median(err) < 1e-5:
            assert np.quantile(err, 0.99) < 2e-5  # micrometres: float32 and the 24-bit depth buffer
            mask, ref_s = np.isfinite(res.depth), fid_s >= 0
            assert (mask & ref_s).sum() / (mask | ref_s).sum() >= 0.998
            break
    else:
        pytest.fail(f"depth matches no multisample position: median errors {errors} m")


def test_result_types_and_background(renderer, model, cfg):
    scene, verts, camera = _sample(model, cfg, 4, size=160)
    res = renderer.render(scene, verts, camera)
    assert res.rgb.shape == (160, 160, 3) and res.rgb.dtype == np.uint8
    assert res.segmentation.shape == (160, 160) and res.segmentation.dtype == np.uint8
    assert res.depth.shape == (160, 160) and res.depth.dtype == np.float32
    bg = res.segmentation == 0
    assert bg.any() and np.isinf(res.depth[bg]).all() and np.isfinite(res.depth[~bg]).all()
    p = np.pad(bg, 1)
    clear = bg & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]  # not an antialiased edge
    want = np.round(np.array(colorsys.hsv_to_rgb(*scene.background.hsv)) * 255)
    assert np.abs(res.rgb[clear].astype(float) - want).max() <= 1
    off = renderer.render(scene, verts, camera, segmentation=False, depth=False)
    assert off.segmentation is None and off.depth is None
    np.testing.assert_array_equal(off.rgb, res.rgb)


def test_pixels_do_not_depend_on_render_order(renderer, model, cfg):
    a, b = _sample(model, cfg, 6), _sample(model, cfg, 7)
    first = renderer.render(*a)
    renderer.render(*b)
    again = renderer.render(*a)
    for x, y in zip((first.rgb, first.segmentation, first.depth), (again.rgb, again.segmentation, again.depth)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("index", (0, 2))
def test_marker_appears_at_projected_point(renderer, model, cfg, index):
    """A small sphere at 3D points all over the view lands where ``camera.project`` puts them."""
    import pyrender
    import trimesh

    scene, verts, camera = _sample(model, cfg, index)
    z_face = float(np.median(camera.to_camera(verts)[:, 2]))
    brows = CLASSES.index("brows")  # a class the head model never produces
    for px, py in ((0.2, 0.25), (0.8, 0.3), (0.35, 0.8), (0.5, 0.5)):
        depth = 0.6 * z_face  # in front of the head
        cam_pt = np.array([(px * SIZE - camera.K[0, 2]) / camera.K[0, 0], (py * SIZE - camera.K[1, 2]) / camera.K[1, 1],
                           1.0]) * depth
        point = camera.R.T @ (cam_pt - camera.t)
        radius = 4.0 * depth / camera.K[0, 0]  # about 4 px
        sphere = trimesh.creation.icosphere(subdivisions=3, radius=radius)
        mat = pyrender.MetallicRoughnessMaterial(baseColorFactor=(1, 1, 1, raster.CODES[brows] / 255))
        pose = np.eye(4)
        pose[:3, 3] = point
        node = renderer.scene.add(pyrender.Mesh.from_trimesh(sphere, material=mat, smooth=False), pose=pose)
        try:
            res = renderer.render(scene, verts, camera)
        finally:
            renderer.scene.remove_node(node)
        ii, jj = np.nonzero(res.segmentation == brows)
        assert len(ii) > 20
        uv, z = camera.project(point[None])
        centroid = np.array([jj.mean() + 0.5, ii.mean() + 0.5])  # pixel centres
        assert np.abs(centroid - uv[0]).max() < 0.5, (centroid, uv[0])
        assert abs(res.depth[ii, jj].min() - (z[0] - radius)) < 0.05 * radius  # the sphere's nearest point


@pytest.mark.parametrize("scalp_hair", (True, False))
def test_segmentation_classes_in_a_frontal_view(renderer, model, cfg, scalp_hair):
    scene, _, _ = _sample(model, cfg, 8)
    scene = dataclasses.replace(
        scene, head_pose=HeadPose(), gaze=Gaze(), expression=Expression(),
        camera=dataclasses.replace(scene.camera, azimuth_deg=0.0, elevation_deg=10.0, roll_deg=0.0),
        hair=dataclasses.replace(scene.hair, scalp_hair=scalp_hair))
    verts = model.scene_vertices(scene)
    camera = scene_camera(model, scene, verts, SIZE, SIZE)
    seg = renderer.render(scene, verts, camera).segmentation
    present = set(np.unique(seg).tolist())
    want = {"background", "skin", "eyes", "lips", "neck", "clothing"} | ({"hair"} if scalp_hair else set())
    assert {CLASSES.index(c) for c in want} <= present
    assert (CLASSES.index("hair") in present) == scalp_hair
    assert CLASSES.index("brows") not in present  # the head model has no brow region
    for region, cls in (("eyeball_left", "eyes"), ("eyeball_right", "eyes"), ("lips", "lips")):
        uv, _ = camera.project(verts[model.region_mask(region)].mean(axis=0)[None])
        j, i = np.floor(uv[0]).astype(int)
        window = seg[i - 2:i + 3, j - 2:j + 3]
        assert (window == CLASSES.index(cls)).mean() > 0.5, (region, np.unique(window))


def test_light_colour_temperature():
    warm, white, cold = (raster.temperature_rgb(k) for k in (2700.0, 6500.0, 9000.0))
    np.testing.assert_allclose(white, 1.0)
    assert warm[0] > warm[1] > warm[2] and cold[2] > cold[1] > cold[0]


def test_irises_stay_darker_than_the_white_of_the_eye():
    """Both backends colour the iris with appearance.iris_rgb: darker as brightness falls, and at
    its lightest (brightness 1) still darker than the sclera in every channel (a light blue iris
    glowed at 0.98 before)."""
    from facegen.generator.appearance import IRIS, SCLERA, iris_rgb

    for colour in IRIS:
        dark, light = iris_rgb(colour, 0.0), iris_rgb(colour, 1.0)
        assert (dark < light).all() and (light < SCLERA - 0.2).all(), colour


def test_class_codes_survive_multisample_blends():
    """No 1/4, 1/2 or 3/4 blend of two alpha codes rounds to a third code."""
    codes = raster.CODES
    # Every class the head mesh has a code; "occluder" (the last) comes from the glasses' own z-buffer.
    assert len(codes) == len(CLASSES) - 1 and CLASSES[-1] == "occluder"
    assert codes[0] == 0 and len(set(codes.tolist())) == len(codes)
    for a, b in itertools.combinations(codes, 2):
        for k in (1, 2, 3):
            blend = np.round(a + k * (b - a) / 4)
            assert blend in (a, b) or blend not in codes, (a, b, k)


@pytest.mark.parametrize("kind", ["clear", "sunglasses"])
def test_glasses_occlude_what_they_cover(renderer, model, kind):
    """Frames, and the lenses of sunglasses, cover pixels (the cover map and the occluder class)
    and flag the eye landmarks under them occluded; clear lenses leave the eyes visible."""
    from facegen.generator.projection import load_spec, project_landmarks

    scene = sample_scene(load_scene_config(), 5, 0)
    pose = HeadPose(0.0, 0.0, 0.0)
    scene = dataclasses.replace(scene, head_pose=pose, gaze=Gaze(0.0, 0.0), expression=Expression(()),
                                occluders=dataclasses.replace(scene.occluders, glasses=kind, drop_m=0.0))
    verts = model.scene_vertices(scene)
    cam = scene_camera(model, scene, verts, 128, 128)
    res = renderer.render(scene, verts, cam)
    bare = renderer.render(dataclasses.replace(scene, occluders=dataclasses.replace(scene.occluders, glasses="none")),
                           verts, cam)
    assert bare.cover is None and res.cover is not None
    assert np.array_equal(res.cover >= 128, res.segmentation == CLASSES.index("occluder"))
    lm = project_landmarks(load_spec("68", model), verts, model.faces, cam, depth_map=res.depth, cover=res.cover)
    eyes = slice(36, 48)
    if kind == "sunglasses":
        assert lm.occluded[eyes].all() and not lm.visible[eyes].any()
    else:
        assert lm.visible[eyes].mean() > 0.8
    assert not lm.occluded[48:].any()  # the mouth is never under glasses


def test_teeth_show_in_the_open_mouth(renderer, model, monkeypatch):
    """With the jaw open the teeth and tongue are drawn through the mouth opening (brighter than
    the dark mouth interior drawn without them), and nowhere outside the head's mouth region."""
    from facegen.generator.scene import NO_HANDS, NO_OCCLUDERS

    scene = sample_scene(load_scene_config(), 5, 1)
    scene = dataclasses.replace(scene, head_pose=HeadPose(0.0, 0.0, 0.0), gaze=Gaze(0.0, 0.0),
                                expression=Expression((("jawOpen", 0.8),)), occluders=NO_OCCLUDERS, hands=NO_HANDS)
    verts = model.scene_vertices(scene)
    cam = scene_camera(model, scene, verts, 128, 128)
    with_teeth = renderer.render(scene, verts, cam)
    monkeypatch.setattr(renderer._mouth, "posed", lambda v: {})
    without = renderer.render(scene, verts, cam)
    changed = np.abs(with_teeth.rgb.astype(int) - without.rgb).sum(-1) > 30
    assert changed.sum() > 20
    assert np.isin(with_teeth.segmentation[changed], [CLASSES.index("mouth_interior"), CLASSES.index("lips")]).mean() > 0.9
    assert with_teeth.rgb[changed].mean() > without.rgb[changed].mean() + 25  # teeth and tongue over the dark interior


def test_nostrils_show_dark_under_a_raised_chin(renderer, model, monkeypatch):
    """With the chin raised, the nostrils are dark in the picture (appearance.NOSTRIL_SHADE); with
    the albedo of the skin there (shade 1) they were about as light as the nose around them. The
    creases' shade (``cavity_shade``, which darkens the nostrils too) is left out of both."""
    from facegen.generator import appearance
    from facegen.generator.scene import NO_HANDS, NO_OCCLUDERS

    monkeypatch.setattr(renderer._albedo_of, "cavities", np.zeros(model.n_vertices))

    scene = sample_scene(load_scene_config(), 5, 1)
    scene = dataclasses.replace(scene, head_pose=HeadPose(0.0, 30.0, 0.0), gaze=Gaze(0.0, 0.0),
                                expression=Expression(()), occluders=NO_OCCLUDERS, hands=NO_HANDS)
    verts = model.scene_vertices(scene)
    cam = scene_camera(model, scene, verts, 256, 256)
    shaded = renderer.render(scene, verts, cam).rgb.astype(float).mean(-1)
    monkeypatch.setattr(appearance, "NOSTRIL_SHADE", 1.0)
    plain = renderer.render(scene, verts, cam).rgb.astype(float).mean(-1)
    darker = plain - shaded > 20
    assert darker.sum() >= 6  # two nostrils, a few pixels each at 256 px
    deep = appearance.nostril_weights(model) >= 1
    uv = cam.project(verts.astype(np.float64)[deep])[0]
    assert (np.abs(np.argwhere(darker)[:, ::-1].mean(axis=0) - uv.mean(axis=0)) < 6).all()  # at the nostrils
    assert shaded[darker].mean() < 0.6 * plain[darker].mean()


def _hides_the_mouth(renderer, model, scene):
    """Render ``scene`` at 128 px and check what an occluder held before the mouth must do: its
    pixels are the cover and the occluder class, the mouth landmarks are occluded and the eyes
    are not. Returns the render."""
    from facegen.generator.projection import load_spec, project_landmarks

    verts = model.scene_vertices(scene)
    cam = scene_camera(model, scene, verts, 128, 128)
    res = renderer.render(scene, verts, cam)
    assert np.array_equal(res.cover >= 128, res.segmentation == CLASSES.index("occluder"))
    lm = project_landmarks(load_spec("68", model), verts, model.faces, cam, depth_map=res.depth, cover=res.cover)
    assert lm.occluded[48:68].mean() > 0.8 and not lm.occluded[36:48].any()
    return res


def test_a_held_object_occludes_the_landmarks_behind_it(renderer, model):
    """A phone held 5 cm in front of the mouth, its screen toward the camera: the mouth landmarks
    are occluded and the pixels are the occluder class and the cover."""
    scene = sample_scene(load_scene_config(), 5, 0)
    occ = dataclasses.replace(scene.occluders, glasses="none", object="phone", object_anchor="mouth",
                              object_offset_m=0.05, object_rotation_deg=(0.0, 0.0, 90.0), object_scale=1.0)
    _hides_the_mouth(renderer, model, dataclasses.replace(scene, head_pose=HeadPose(0.0, 0.0, 0.0), occluders=occ))


def test_a_hand_over_the_mouth_occludes_the_mouth_points(renderer, model):
    """An open right hand held across the mouth and chin (fingers toward the subject's left): the mouth
    landmarks are occluded, the eyes are not, and the hand's pixels are the occluder class."""
    from facegen.generator import appearance
    from facegen.generator.scene import HandParams, NO_OCCLUDERS

    scene = dataclasses.replace(sample_scene(load_scene_config(), 5, 1), head_pose=HeadPose(0.0, 0.0, 0.0),
                                occluders=NO_OCCLUDERS,
                                hands=HandParams("right", "open", "mouth", 0.01, (0.0, -0.02), 90.0, 0.0, 0.0, 1.0))
    res = _hides_the_mouth(renderer, model, scene)
    skin = appearance.skin_rgb(scene.skin.tone) * 255
    assert np.abs(np.median(res.rgb[res.cover >= 128], axis=0) - 0.8 * skin).max() < 0.3 * 255  # skin coloured
