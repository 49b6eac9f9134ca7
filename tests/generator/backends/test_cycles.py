"""The cycles backend: Blender's camera equals ours, silhouettes and a marker land where the
numpy projection says, strand hair grows where the scene says and flags what it hides.
Skips when bpy is not installed."""

import contextlib
import dataclasses

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from facegen.generator.backends import make_renderer  # noqa: E402
from facegen.generator import body  # noqa: E402
from facegen.generator.camera import scene_camera  # noqa: E402
from facegen.generator.config import load_scene_config  # noqa: E402
from facegen.generator.zbuffer import rasterize  # noqa: E402
from facegen.generator.samplers import sample_scene  # noqa: E402
from facegen.generator.projection import load_spec, project_landmarks  # noqa: E402
from facegen.generator.scene import NO_BYSTANDER, NO_HANDS, NO_OCCLUDERS, NO_PHOTO, NO_STRANDS  # noqa: E402
from facegen.generator.segmentation import CLASSES  # noqa: E402


@pytest.fixture(scope="module")
def renderer(model):
    r = make_renderer("cycles", model=model, samples=1, denoise=False)
    yield r
    r.close()


@contextlib.contextmanager
def _denoised(renderer, samples=16):
    """The module's renderer at ``samples`` samples with the denoiser, for checks on pixel values
    (a median of 1-sample pixels sits low); restored after. One renderer per module: closing a
    second one removes the first one's scene."""
    sc = renderer.scene
    kept = sc.cycles.samples, sc.cycles.use_denoising
    sc.cycles.samples, sc.cycles.use_denoising = samples, True
    try:
        yield
    finally:
        sc.cycles.samples, sc.cycles.use_denoising = kept


def _sample(model, index, size=96, strands=False):
    """A sampled scene; its HDRI (if any) lights it but is neither seen nor defocused, so that the
    geometric checks below see sharp outlines and the backdrop of the background section; no
    strand hair unless ``strands``, no glasses, objects, hands or bystander (not part of the head
    mesh those checks compare with)."""
    scene = sample_scene(load_scene_config(), 21, index)
    env = dataclasses.replace(scene.environment, background_visible=False, defocus=False)
    scene = dataclasses.replace(scene, environment=env, strands=scene.strands if strands else NO_STRANDS,
                                occluders=NO_OCCLUDERS, hands=NO_HANDS, bystander=NO_BYSTANDER)
    verts = model.scene_vertices(scene)
    return scene, verts, scene_camera(model, scene, verts, size, size)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_blender_projects_like_our_camera(renderer, model, index):
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    scene, verts, cam = _sample(model, index, size=128)
    cam = dataclasses.replace(cam, K=cam.K.copy())
    cam.K[0, 2] += 3.3  # an off-centre principal point must survive the conversion too
    cam.K[1, 2] -= 2.1
    renderer.render(scene, verts, cam, segmentation=False, depth=False)
    pts = verts[::97].astype(np.float64)
    ours, _ = cam.project(pts)
    bl = np.array([world_to_camera_view(renderer.scene, renderer.camera, Vector(p))[:2] for p in pts])
    theirs = np.stack([bl[:, 0] * cam.width, (1.0 - bl[:, 1]) * cam.height], axis=1)
    assert np.abs(ours - theirs).max() < 0.25


def _alpha_render(renderer, scene, verts, cam, soft=False):
    """Render with a transparent film; ``(H, W)`` coverage (bool, or 0..1 if ``soft``)."""
    sc = renderer.scene
    sc.render.film_transparent = True
    sc.render.image_settings.color_mode = "RGBA"
    try:
        renderer.render(scene, verts, cam, segmentation=False, depth=False)
        from PIL import Image

        with Image.open(sc.render.filepath) as im:
            alpha = np.asarray(im)[..., 3] / 255.0
            return alpha if soft else alpha > 0.5
    finally:
        sc.render.film_transparent = False
        sc.render.image_settings.color_mode = "RGB"


@pytest.mark.parametrize("index", [3, 4])
def test_silhouette_matches_the_projected_mesh(renderer, model, index):
    scene, verts, cam = _sample(model, index, size=128)
    mask = _alpha_render(renderer, scene, verts, cam)
    whole, faces = body.with_body(verts, model.faces)  # the bust and the arms and trunk below it
    uv, z = cam.project(whole)
    _, face_id, _ = rasterize(uv, z, faces, cam.height, cam.width)
    ours = face_id >= 0
    iou = (mask & ours).sum() / (mask | ours).sum()
    assert iou >= 0.99, iou


def test_marker_lands_at_the_projected_pixel(renderer, model):
    from facegen.generator.head_model import HeadPose

    scene, _, _ = _sample(model, 5)
    scene = dataclasses.replace(scene, head_pose=HeadPose(yaw_deg=20.0))  # the nose in sight
    verts = model.scene_vertices(scene)
    cam = scene_camera(model, scene, verts, 128, 128)
    nose = int(np.argmin(model.vertices()[:, 1]))  # the front-most template vertex: the nose tip
    point = verts[nose].astype(np.float64)
    point += 0.008 * (cam.position - point) / np.linalg.norm(cam.position - point)  # in front of the skin
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.006, location=point.tolist())
    marker = bpy.context.active_object
    # The marker alone (head, eyes, teeth and tongue hidden, transparent film): its alpha coverage is its image.
    hidden = [renderer.head, renderer.body, *renderer.eyes, *renderer._mouth_objects.values()]
    sc = renderer.scene
    samples = sc.cycles.samples
    try:
        for obj in hidden:
            obj.hide_render = True
        sc.cycles.samples = 64
        alpha = _alpha_render(renderer, scene, verts, cam, soft=True)
    finally:
        bpy.data.objects.remove(marker)
        for obj in hidden:
            obj.hide_render = False
        sc.cycles.samples = samples
    assert 2 <= alpha.sum() <= 200
    ys, xs = np.mgrid[: alpha.shape[0], : alpha.shape[1]] + 0.5
    found = np.array([(xs * alpha).sum(), (ys * alpha).sum()]) / alpha.sum()
    expected, _ = cam.project(point[None])
    assert np.linalg.norm(found - expected[0]) < 0.5


def test_outputs_and_segmentation(renderer, model):
    scene, verts, cam = _sample(model, 6, size=96)
    res = renderer.render(scene, verts, cam)
    assert res.rgb.shape == (96, 96, 3) and res.rgb.dtype == np.uint8
    assert res.segmentation.shape == (96, 96) and res.depth.shape == (96, 96)
    fg = res.segmentation > 0
    assert np.isfinite(res.depth[fg]).all() and np.isinf(res.depth[~fg]).all()
    present = {CLASSES[c] for c in np.unique(res.segmentation)}
    assert {"background", "skin", "lips"} <= present, present
    # The background is not black: the camera sees the scene's background colour or pattern.
    assert res.rgb[~fg].mean() > 5


def test_picture_background(renderer, model, tmp_path):
    from PIL import Image

    Image.new("RGB", (32, 32), (20, 40, 230)).save(tmp_path / "blue.png")
    scene, verts, cam = _sample(model, 7, size=64)
    bg = dataclasses.replace(scene.background, kind="image", image_folder=str(tmp_path), image_pick=0.3)
    res = renderer.render(dataclasses.replace(scene, background=bg), verts, cam)
    pixels = res.rgb[res.segmentation == 0].astype(float)
    assert pixels[:, 2].mean() > pixels[:, 0].mean() + 60  # the picture's blue fills the background


def test_hdri_lights_the_face_and_is_the_visible_background(renderer, model):
    """An HDRI lights the head alone (no disk lights), the camera sees the map where the head is
    not, and defocus focuses Blender's camera on the face at the scene's f-stop."""
    from facegen.generator.camera import face_centre
    from facegen.generator.scene import EnvironmentParams

    scene, verts, cam = _sample(model, 8, size=64)
    env = EnvironmentParams("courtyard", "", 0.0, 90.0, 0.0, 6500.0, True, False, 1.4, False)
    seen = renderer.render(dataclasses.replace(scene, environment=env), verts, cam)
    assert not renderer.camera.data.dof.use_dof
    hidden = renderer.render(dataclasses.replace(scene, environment=dataclasses.replace(env, background_visible=False)),
                             verts, cam, segmentation=False, depth=False)
    face, back = seen.segmentation > 1, seen.segmentation == 0
    assert seen.rgb[face].mean() > 25  # lit by the map alone
    assert np.abs(seen.rgb[back].astype(float) - hidden.rgb[back]).mean() > 10  # the map, not the backdrop
    renderer.render(dataclasses.replace(scene, environment=dataclasses.replace(env, defocus=True)), verts, cam,
                    segmentation=False, depth=False)
    dof = renderer.camera.data.dof
    regions = [np.flatnonzero(model.region_mask(n)) for n in ("eyeball_left", "eyeball_right", "lips")]
    distance = np.linalg.norm(face_centre(verts, *regions) - cam.position)
    assert dof.use_dof and abs(dof.focus_distance - distance) < 1e-4 and abs(dof.aperture_fstop - 1.4) < 1e-6


def test_key_light_in_front_lights_the_face(renderer, model):
    """With key_light_front the map is turned to put its main light (courtyard's sun) where
    key_light_azimuth_deg says: from behind the camera the face is lit, from behind the head it
    is in shadow; rotation_deg is then unused. No metering: the light itself is compared."""
    from facegen.generator.scene import EnvironmentParams

    scene, verts, cam = _sample(model, 8, size=64)
    env = EnvironmentParams("courtyard", "", 0.0, 90.0, 0.0, 6500.0, False, False, 1.4, False, True, 0.0)
    face = {}
    with _denoised(renderer):
        for azimuth, rotation in ((0.0, 90.0), (0.0, 270.0), (180.0, 90.0)):
            lit = dataclasses.replace(scene, photo=NO_PHOTO, environment=dataclasses.replace(
                env, key_light_azimuth_deg=azimuth, rotation_deg=rotation))
            res = renderer.render(lit, verts, cam)
            face[azimuth, rotation] = res.rgb[res.segmentation > 1].astype(float).mean()
    assert face[0.0, 90.0] == face[0.0, 270.0]  # rotation_deg unused
    assert face[0.0, 90.0] > 1.25 * face[180.0, 90.0]  # sun behind the camera vs behind the head (1.46)


def test_main_light_azimuth_and_the_turn_that_puts_it_in_front():
    """A map lit by one bright patch: its azimuth is found in Blender's convention, and the turn
    puts it where the camera is (or key_azimuth from it)."""
    from facegen.generator.backends.cycles import hdri_turn_for_key_light, main_light_azimuth_deg

    h, w = 64, 128
    lum = np.full((h, w), 0.1)
    lum[40:44, 32:36] = 50.0  # upper half (rows count from the bottom), u ~ 0.266
    u = 34 / w
    expected = np.degrees(np.pi - 2 * np.pi * u)  # Blender: u = (pi - atan2(y, x)) / 2 pi
    assert abs(main_light_azimuth_deg(lum) - expected) < 3.0
    lum[10:14, 96:100] = 500.0  # below the horizon: not a key light
    assert abs(main_light_azimuth_deg(lum) - expected) < 3.0
    to_camera = np.array([0.0, -1.0, 0.0])  # the camera in front of the face (-y)
    for key in (0.0, 40.0, -90.0):
        turn = hdri_turn_for_key_light(expected, to_camera, key)
        shown = np.radians(expected - turn)  # a map azimuth a shows at world azimuth a - turn
        want = np.radians(-90.0 + key)
        assert abs(np.angle(np.exp(1j * (shown - want)))) < 1e-9


def _styled(scene, style, **changes):
    hair = dataclasses.replace(scene.hair, scalp_hair=True, melanin=0.9)
    return dataclasses.replace(scene, hair=hair, strands=dataclasses.replace(scene.strands, style=style, **changes))


def test_strand_hair_is_drawn_and_is_the_hair_class(renderer, model):
    """Long strand hair reaches past the head mesh's outline; where it covers a pixel the
    segmentation says hair; a bald scene with the same draws has no cover at all."""
    scene, verts, cam = _sample(model, 9, size=96, strands=True)
    hairy = renderer.render(_styled(scene, "long", length_m=0.3, comb_back=0.0), verts, cam)
    uv, z = cam.project(verts)
    _, face_id, _ = rasterize(uv, z, model.faces, cam.height, cam.width)
    strands = hairy.cover >= 128
    assert (strands & (face_id < 0)).sum() > 50  # hair hangs beyond the mesh
    assert np.array_equal(hairy.segmentation == CLASSES.index("hair"), strands)
    bald = renderer.render(_styled(scene, "bald"), verts, cam)
    assert bald.cover.max() == 0 and not (bald.segmentation == CLASSES.index("hair")).any()


def _curves(data):
    """World positions (N, 3) and curve offsets (C + 1,) of a hair curves datablock."""
    pos = np.empty(3 * len(data.points), np.float32)
    data.points.foreach_get("position", pos)
    offsets = np.empty(len(data.curves) + 1, np.int32)
    data.curve_offset_data.foreach_get("value", offsets)
    return pos.reshape(-1, 3), offsets


def test_grown_scalp_hair_keeps_off_the_face(renderer, model):
    """Long hair parted deep on one side: of the strands Blender's node groups grow, those that
    cross the face are not rendered (``hair.strands_off_face``), and they are few."""
    from facegen.generator import hair

    scene, verts, cam = _sample(model, 9, size=32, strands=True)
    renderer.render(_styled(scene, "long", length_m=0.35, part_x=-0.045, comb_back=0.85), verts, cam,
                    segmentation=False, depth=False)
    systems = renderer._hair
    grown = systems.objects["scalp"].evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    assert systems.objects["scalp"].hide_render and not systems.objects["scalp_grown"].hide_render
    every, seen = _curves(grown), _curves(systems.objects["scalp_grown"].data)
    keep = hair.strands_off_face(systems.layout, verts, *every)
    assert 0 < (~keep).sum() < 0.05 * len(keep)  # some crossed the face
    kept_points = np.repeat(keep, np.diff(every[1]))
    assert np.array_equal(seen[0], every[0][kept_points])  # exactly the strands that stay off it
    assert np.array_equal(np.diff(seen[1]), np.diff(every[1])[keep])


def test_a_strand_over_a_landmark_flags_it_occluded(renderer, model):
    """A scalp-hair strand laid across the face between the camera and the nose tip: the landmarks
    under it are `occluded` (not visible, not self-occluded); without it none is."""
    spec = load_spec("68", model)
    scene, verts, cam = _sample(model, 0, size=96, strands=True)
    scene = _styled(scene, "bald")
    before = renderer.render(scene, verts, cam)
    free = project_landmarks(spec, verts, model.faces, cam, depth_map=before.depth, cover=before.cover)
    assert not free.occluded.any()
    nose = free.cam[30]  # iBUG 31: the nose tip, camera coordinates
    world = cam.R.T @ (nose * 0.8 - cam.t)  # a fifth of the way to the camera
    across = cam.R.T @ np.array([1.0, 0.0, 0.0])  # the image's x axis, world
    points = world + np.linspace(-0.05, 0.05, 8)[:, None] * across
    data = bpy.data.hair_curves.new("test_strand")
    data.add_curves([len(points)])
    data.position_data.foreach_set("vector", points.astype(np.float32).ravel())
    data.attributes.new("radius", "FLOAT", "POINT").data.foreach_set("value", np.full(len(points), 0.004, np.float32))
    data.materials.append(renderer._hair.material)  # the scalp hair's material: it writes the cover
    obj = bpy.data.objects.new("test_strand", data)
    renderer.scene.collection.objects.link(obj)
    try:
        after = renderer.render(scene, verts, cam)
    finally:
        bpy.data.objects.remove(obj)
    hidden = project_landmarks(spec, verts, model.faces, cam, depth_map=after.depth, cover=after.cover)
    assert hidden.occluded[30] and not hidden.visible[30] and not hidden.self_occluded[30]
    assert ((hidden.visible | hidden.occluded) == free.visible).all()  # occluded only takes from visible


def test_cycles_dataset_stores_occlusion_and_relabel_reproduces_it(tmp_path, capsys):
    """A Cycles dataset of long-haired heads stores the cover map; relabelling with the
    render-time spec reproduces every label array, `occluded` included, bit for bit."""
    from facegen.cli import main
    from facegen.generator import shard_format as sf

    config = tmp_path / "hair.yaml"
    config.write_text("hair:\n  scalp_hair_probability: 1.0\nhead_pose:\n  yaw_deg: [50, 70]\n"
                      "strands:\n  style: {choice: [long]}\n  comb_back: 0.0\n")
    out = tmp_path / "ds"
    assert main(["render", "--spec", "68", "--num", "3", "--out", str(out), "--renderer", "cycles", "--resolution", "64",
                 "--config", str(config), "--renderer-setting", "samples=2", "--quiet"]) == 0
    m = sf.read_manifest(out)
    assert m.schema_version == 2
    assert main(["relabel", str(out), "--spec", "68", "--name", "again"]) == 0
    m = sf.read_manifest(out)
    occluded = 0
    for s in m.shards:
        a = sf.read_labels(m.label_file(out, "ibug68", s.file), "ibug68")
        b = sf.read_labels(m.label_file(out, "again", s.file), "again")
        for k in sf.LABEL_FIELDS:
            assert np.array_equal(a[k], b[k]), k
        occluded += a["occluded"].sum()
        assert not (a["occluded"] & (a["visible"] | a["self_occluded"] | a["out_of_frame"])).any()
    assert occluded > 0  # hair falling past the far cheek hides some of the jaw line
    assert main(["inspect", str(out)]) == 0


def test_sunglasses_occlude_the_eyes(renderer, model):
    """Dark lenses write the occluder cover: the eye landmarks under them are occluded and the
    pixels are the occluder class; clear lenses leave the eyes visible."""
    from facegen.generator.head_model import Expression, Gaze, HeadPose

    spec = load_spec("68", model)
    scene, _, _ = _sample(model, 0, strands=False)
    scene = dataclasses.replace(scene, head_pose=HeadPose(0.0, 0.0, 0.0), gaze=Gaze(0.0, 0.0), expression=Expression(()))
    verts = model.scene_vertices(scene)
    cam = scene_camera(model, scene, verts, 96, 96)
    pixels = {}
    for kind in ("sunglasses", "clear"):
        s = dataclasses.replace(scene, occluders=dataclasses.replace(scene.occluders, glasses=kind, drop_m=0.0))
        res = renderer.render(s, verts, cam)
        lm = project_landmarks(spec, verts, model.faces, cam, depth_map=res.depth, cover=res.cover)
        pixels[kind] = (res.segmentation == CLASSES.index("occluder")).sum()
        assert np.array_equal(res.segmentation == CLASSES.index("occluder"), res.cover >= 128)  # no hair here
        if kind == "sunglasses":
            assert lm.occluded[36:48].all() and not lm.visible[36:48].any()
        else:
            assert lm.visible[36:48].mean() > 0.8
    assert pixels["sunglasses"] > 3 * pixels["clear"] > 0  # lenses and frame vs the frame alone


def test_clear_lenses_show_the_eyes_behind_them(renderer, model, monkeypatch):
    """A clear lens is a thin sheet: the eyes behind it look as they do without glasses, but for
    a faint reflection (a refracting glass surface there bent every ray and blocked the light).
    The skin's crease shade is left out: it darkens the lids around these 51 eye pixels, and the
    denoised difference over them rose to 8.2 / 3.2 (uncoated / coated; uncoated 6.0 without it)
    with the lens unchanged."""
    from facegen.generator.head_model import Expression, Gaze, HeadPose

    monkeypatch.setattr(renderer._albedo_of, "cavities", np.zeros(model.n_vertices))

    scene, _, _ = _sample(model, 0, strands=False)
    scene = dataclasses.replace(scene, head_pose=HeadPose(0.0, 0.0, 0.0), gaze=Gaze(0.0, 0.0), expression=Expression(()),
                                photo=NO_PHOTO)
    verts = model.scene_vertices(scene)
    cam = scene_camera(model, scene, verts, 192, 192)
    diff = {}
    with _denoised(renderer):  # the lens, not the noise, is compared
        bare = renderer.render(scene, verts, cam)
        for f0 in (0.04, 0.005):  # uncoated, anti-reflective coated
            glasses = dataclasses.replace(scene.occluders, glasses="clear", drop_m=0.0, spread_m=0.0,
                                          lens_reflectance=f0)
            lens = renderer.render(dataclasses.replace(scene, occluders=glasses), verts, cam)
            eyes = (bare.segmentation == CLASSES.index("eyes")) & (lens.cover == 0)
            assert eyes.sum() > 40
            diff[f0] = np.abs(lens.rgb[eyes].astype(float) - bare.rgb[eyes].astype(float)).mean()
            diff[f0, "signed"] = (lens.rgb[eyes].astype(float) - bare.rgb[eyes].astype(float)).mean()
    # of 255, measured: 4.4 (the thin uncoated lens), 8.1 (a refracting glass surface in its
    # place); a coated lens reflects an eighth as much: 2.7 from the eyes without glasses, and the
    # uncoated lens is 2.6 brighter over the eyes than the coated one
    assert diff[0.04] < 6.5, diff
    assert diff[0.005] < 0.75 * diff[0.04], diff
    assert diff[0.04, "signed"] - diff[0.005, "signed"] > 1.5, diff


def test_the_garment_edge_is_where_the_segmentation_says(renderer, model):
    """The clothing material switches from skin to fabric at the smoothed garment edge, the same
    line the segmentation's clothing class follows: green fabric pixels are clothing, the skin
    just above the edge is not green."""
    from facegen.generator.head_model import HeadPose

    scene, _, _ = _sample(model, 2)
    far = dataclasses.replace(scene.camera, distance_m=scene.camera.distance_m * 1.8, azimuth_deg=0.0,
                              elevation_deg=0.0, roll_deg=0.0)  # the shoulders in view
    scene = dataclasses.replace(scene, camera=far, head_pose=HeadPose(0.0, 0.0, 0.0),
                                clothing=dataclasses.replace(scene.clothing, hsv=(0.33, 1.0, 0.8)))
    verts = model.scene_vertices(scene)
    cam = scene_camera(model, scene, verts, 128, 128)
    res = renderer.render(scene, verts, cam)
    rgb = res.rgb.astype(float)
    green = rgb[..., 1] - rgb[..., [0, 2]].max(-1)
    cloth = res.segmentation == CLASSES.index("clothing")
    inner = cloth & np.roll(cloth, 2, 0) & np.roll(cloth, -2, 0)  # away from the edge
    bare = (res.segmentation == CLASSES.index("neck")) & ~np.roll(cloth, 2, 0) & ~np.roll(cloth, -2, 0)
    assert inner.sum() > 100 and bare.sum() > 50
    assert np.median(green[inner]) > 40 and np.median(green[bare]) < 0


def test_a_crew_top_covers_the_shoulders_that_an_off_shoulder_top_leaves_bare(renderer, model):
    """The same scene in a crew top and an off-shoulder top: the crew top's clothing class covers
    more of the image, all of the off-shoulder top's clothing and the shoulders' skin, and the
    neck above the neckline stays neck in both."""
    from facegen.generator.head_model import HeadPose

    scene, _, _ = _sample(model, 2)
    far = dataclasses.replace(scene.camera, distance_m=scene.camera.distance_m * 1.8, azimuth_deg=0.0,
                              elevation_deg=0.0, roll_deg=0.0)
    seg = {}
    for neckline in ("crew", "bare_shoulders"):
        s = dataclasses.replace(scene, camera=far, head_pose=HeadPose(0.0, 0.0, 0.0),
                                clothing=dataclasses.replace(scene.clothing, neckline=neckline))
        verts = model.scene_vertices(s)
        cam = scene_camera(model, s, verts, 96, 96)
        seg[neckline] = renderer.render(s, verts, cam).segmentation
    cloth = {k: v == CLASSES.index("clothing") for k, v in seg.items()}
    assert cloth["crew"].sum() > 1.2 * cloth["bare_shoulders"].sum()
    assert np.mean(cloth["crew"][cloth["bare_shoulders"]]) > 0.98
    rest = model.mean[: 3 * model.n_vertices].reshape(-1, 3)
    throat = model.region_mask("neck") & (rest[:, 2] > -0.045) & (rest[:, 2] < -0.02) & (rest[:, 1] < -0.04)
    uv, _ = cam.project(verts[throat])
    px = np.clip(np.floor(uv).astype(int), 0, 95)
    for k in seg:
        assert np.mean(seg[k][px[:, 1], px[:, 0]] == CLASSES.index("neck")) > 0.7, k


def test_a_bystander_stands_behind_in_frame_and_leaves_the_labels_alone(renderer, model):
    """A second person drawn into a scene: seen beside the subject (the image changes there and
    hardly on the subject's face), farther from the camera, its bust's cut below the frame, and
    the segmentation (the subject's classes and covers) exactly as without it."""
    cfg = load_scene_config()
    person = next(s.bystander for s in (sample_scene(cfg, 0, i) for i in range(100)) if s.bystander.present)
    scene, verts, cam = _sample(model, 1)
    res = {}
    for present in (False, True):
        s = dataclasses.replace(scene, bystander=dataclasses.replace(person, present=present, across=0.8, up_m=0.0))
        res[present] = renderer.render(s, verts, cam)
    assert np.array_equal(res[True].segmentation, res[False].segmentation)
    placed = np.empty(len(renderer.bystander.data.vertices) * 3, np.float32)
    renderer.bystander.data.vertices.foreach_get("co", placed)
    uv, z = cam.project(placed.reshape(-1, 3).astype(np.float64))
    _, z_subject = cam.project(verts.astype(np.float64))
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < 96) & (uv[:, 1] >= 0) & (uv[:, 1] < 96)
    assert inside.mean() > 0.05 and np.median(z) > np.median(z_subject) + 0.3
    lowest = placed.reshape(-1, 3)[:, 2] < placed.reshape(-1, 3)[:, 2].min() + 0.02
    assert uv[lowest, 1].min() >= 96  # the cut is below the frame
    diff = np.abs(res[True].rgb.astype(float) - res[False].rgb.astype(float)).max(axis=-1)
    px = np.clip(np.floor(uv[inside]).astype(int), 0, 95)
    there = np.zeros((96, 96), bool)
    there[px[:, 1], px[:, 0]] = True
    face = res[False].segmentation == CLASSES.index("skin")
    assert np.median(diff[there & ~face & (res[False].segmentation == 0)]) > 10
    assert np.median(diff[face]) < 4


def test_a_held_object_occludes_the_mouth(renderer, model):
    """A phone 5 cm in front of the mouth, screen to the camera: the mouth points are occluded,
    the eyes are not, and the phone's pixels are the occluder class."""
    from facegen.generator.head_model import HeadPose

    scene, _, _ = _sample(model, 3)
    occ = dataclasses.replace(scene.occluders, object="phone", object_anchor="mouth", object_offset_m=0.05,
                              object_rotation_deg=(0.0, 0.0, 90.0), object_scale=1.0)
    scene = dataclasses.replace(scene, head_pose=HeadPose(0.0, 0.0, 0.0), occluders=occ)
    verts = model.scene_vertices(scene)
    cam = scene_camera(model, scene, verts, 96, 96)
    res = renderer.render(scene, verts, cam)
    lm = project_landmarks(load_spec("68", model), verts, model.faces, cam, depth_map=res.depth, cover=res.cover)
    assert lm.occluded[48:68].mean() > 0.8 and not lm.occluded[36:48].any()
    assert (res.segmentation == CLASSES.index("occluder")).sum() > 100


def test_a_hand_over_the_mouth_occludes_the_mouth_points(renderer, model):
    """An open right hand held across the mouth: the mouth points are occluded, the eyes are not,
    and the hand's pixels are the occluder class; the hand wears the face's skin."""
    from facegen.generator.head_model import HeadPose
    from facegen.generator.scene import HandParams

    scene, _, _ = _sample(model, 3)  # (no hand: one is put below)
    scene = dataclasses.replace(scene, head_pose=HeadPose(0.0, 0.0, 0.0), occluders=NO_OCCLUDERS,
                                hands=HandParams("right", "open", "mouth", 0.01, (0.0, -0.02), 90.0, 0.0, 0.0, 1.0))
    verts = model.scene_vertices(scene)
    cam = scene_camera(model, scene, verts, 96, 96)
    res = renderer.render(scene, verts, cam)
    lm = project_landmarks(load_spec("68", model), verts, model.faces, cam, depth_map=res.depth, cover=res.cover)
    assert lm.occluded[48:68].mean() > 0.8 and not lm.occluded[36:48].any()
    hand = res.segmentation == CLASSES.index("occluder")
    assert hand.sum() > 100
    face = res.segmentation == CLASSES.index("skin")
    hue = lambda px: px[:, 0] / np.maximum(px.sum(axis=1), 1)  # noqa: E731 (red share: skin, not a grey object)
    assert abs(np.median(hue(res.rgb[hand].astype(float))) - np.median(hue(res.rgb[face].astype(float)))) < 0.06


def test_metering_brings_a_dim_face_to_its_target(renderer, model):
    from facegen.generator import appearance, photo
    from facegen.generator.scene import PhotoParams

    scene, verts, cam = _sample(model, 6, size=96)
    dim = dataclasses.replace(scene.environment, exposure_ev=0.0, extra_lights=False)
    uv, z = cam.project(verts)
    _, face_id, _ = rasterize(uv, z, model.faces, cam.height, cam.width)
    face = (face_id >= 0) & model.region_mask("face_skin")[model.faces].all(axis=1)[np.maximum(face_id, 0)]
    target = photo.face_target(appearance.skin_rgb(scene.skin.tone))
    values = {}
    with _denoised(renderer):
        for metering in (0.0, 1.0):
            s = dataclasses.replace(scene, environment=dim, photo=PhotoParams(metering, 0.0, 1.0, 0.0, 0, 0))
            rgb = renderer.render(s, verts, cam, segmentation=False, depth=False).rgb
            values[metering] = photo.face_value(rgb, face)
            assert not renderer.scene.render.use_persistent_data  # the next scene is built afresh
    assert values[0.0] < target - 0.1  # as lit, darker than a camera would show it
    assert abs(values[1.0] - target) < 0.06, (values, target)


def test_teeth_carry_their_gaps(renderer):
    """Each teeth mesh holds the ``tooth`` coordinate of its vertices (0 at the midline .. 7 at the
    back), and its material reads it into the enamel's colour (the dark line between teeth)."""
    from facegen.generator.mouth_parts import tooth_coordinate

    for part in ("upper_teeth", "lower_teeth"):
        obj = renderer._mouth_objects[part]
        values = np.empty(len(obj.data.vertices), np.float32)
        obj.data.attributes["tooth"].data.foreach_get("value", values)
        assert np.allclose(values, tooth_coordinate(renderer._mouth.rest[part], part), atol=1e-6)
        tree = obj.active_material.node_tree
        node = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeAttribute" and n.attribute_name == "tooth")
        reached, frontier = set(), [node]
        while frontier:  # follow the links downstream to the BSDF's base colour
            n = frontier.pop()
            for link in tree.links:
                if link.from_node == n and link.to_node.name not in reached:
                    reached.add(link.to_node.name)
                    frontier.append(link.to_node)
                    if link.to_node.bl_idname == "ShaderNodeBsdfPrincipled":
                        assert link.to_socket.name == "Base Color"
        assert "Principled BSDF" in reached
