"""sample_scene: a pure function of (config, seed, index) with the documented distributions."""

import dataclasses
import json

import numpy as np
import pytest

from facegen.generator.config import load_scene_config
from facegen.generator.distributions import parse_dist
from facegen.generator import samplers
from facegen.generator.samplers import IDENTITY_COMPONENTS, sample_scene
from facegen.generator.scene import SceneParams


@pytest.fixture(scope="module")
def cfg():
    return load_scene_config()


@pytest.fixture(scope="module")
def scenes(cfg):
    return [sample_scene(cfg, 7, i) for i in range(1500)]


def test_same_arguments_same_scene_in_any_order(cfg):
    forward = [sample_scene(cfg, 3, i) for i in range(20)]
    backward = [sample_scene(cfg, 3, i) for i in reversed(range(20))][::-1]
    assert forward == backward
    assert sample_scene(cfg, 3, 0) != sample_scene(cfg, 3, 1)
    assert sample_scene(cfg, 3, 0) != sample_scene(cfg, 4, 0)
    assert forward[5].seed == 3 and forward[5].index == 5


def test_scene_round_trips_through_json(cfg):
    scene = sample_scene(cfg, 11, 42)
    again = SceneParams.from_dict(json.loads(json.dumps(scene.to_dict())))
    assert again == scene


def test_sections_draw_independently(cfg, tmp_path):
    # Changing the gaze distribution changes gaze (and the lids that follow it) but no identity,
    # camera or lighting draw.
    path = tmp_path / "gaze.yaml"
    path.write_text("gaze:\n  yaw_deg: [20, 30]\n  at_camera_probability: 0.0\n")
    other = load_scene_config(path)
    for i in range(10):
        a, b = sample_scene(cfg, 1, i), sample_scene(other, 1, i)
        assert a.identity == b.identity and a.camera == b.camera and a.lighting == b.lighting
        assert a.head_pose == b.head_pose and a.gaze != b.gaze
        assert 20 <= b.gaze.yaw_deg <= 30


def _look_at_camera_error_deg(model, spec, scene) -> float:
    """Angle between where the posed eyes point (eyeball centre to the spec's pupil, the iris
    centre; both eyes averaged) and the direction from the eyes' midpoint to the camera."""
    from facegen.generator.camera import scene_camera
    from facegen.generator.projection import surface_points

    posed = model.scene_vertices(scene)
    camera = scene_camera(model, scene, posed, 256, 256)
    posed = posed.astype(np.float64)
    pupils = surface_points(posed, model.faces, spec.pupil_triangle, spec.pupil_bary)
    centres = np.stack([posed[model.region_mask(f"eyeball_{side}")].mean(axis=0) for side in ("left", "right")])
    looks = (pupils - centres) / np.linalg.norm(pupils - centres, axis=1, keepdims=True)
    look = looks.mean(axis=0)
    to_lens = camera.position - centres.mean(axis=0)
    cos = look @ to_lens / np.linalg.norm(look) / np.linalg.norm(to_lens)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def test_subjects_looking_at_the_camera_point_their_eyes_at_the_lens(model, tmp_path):
    from facegen.generator.projection import load_spec

    spec = load_spec("68", model)
    # No jitter: the posed eyes (pupil = iris centre) aim at the camera centre, within 5 degrees
    # (each identity's shape tilts its eyeballs' rest direction by up to ~3 degrees, and
    # EYES_FROM_FACE_CENTRE_M is the mean head's), whenever the eyes can turn that far,
    # whatever the head's pose and the camera's place; otherwise they stop at their limits.
    path = tmp_path / "look.yaml"
    path.write_text("gaze:\n  at_camera_probability: 1.0\n  at_camera_jitter_deg: 0.0\n"
                    "head_pose:\n  pitch_deg: [-30, 30]\ncamera:\n  elevation_deg: [-20, 20]\n")
    cfg = load_scene_config(path)
    aimed = 0
    for i in range(24):
        scene = sample_scene(cfg, 4, i)
        g = scene.gaze
        at_limit = abs(g.yaw_deg) >= samplers.EYE_YAW_LIMIT_DEG or abs(g.pitch_deg) >= samplers.EYE_PITCH_LIMIT_DEG
        if at_limit:
            continue
        aimed += 1
        assert _look_at_camera_error_deg(model, spec, scene) < 5.0, (i, g)
    assert aimed >= 10
    # The same scenes with the free gaze miss the lens by far more.
    path.write_text("gaze:\n  at_camera_probability: 0.0\nhead_pose:\n  pitch_deg: [-30, 30]\n"
                    "camera:\n  elevation_deg: [-20, 20]\n")
    free = load_scene_config(path)
    misses = [_look_at_camera_error_deg(model, spec, sample_scene(free, 4, i)) for i in range(24)]
    assert np.median(misses) > 12


def test_at_camera_share_and_lids_follow(tmp_path):
    cfg = load_scene_config()
    assert cfg.gaze.at_camera_probability == 0.7
    # Heads pitched up 30 degrees under a level camera: eyes at the lens look down, and so do the lids.
    path = tmp_path / "up.yaml"
    path.write_text("head_pose:\n  pitch_deg: 30.0\n  yaw_deg: 0.0\n  roll_deg: 0.0\n"
                    "camera:\n  elevation_deg: 0.0\n  azimuth_deg: 0.0\n")
    up = load_scene_config(path)
    scenes = [sample_scene(up, 0, i) for i in range(200)]
    looking = [s for s in scenes if s.gaze.pitch_deg < -20]
    assert 0.6 < len(looking) / len(scenes) < 0.8  # at_camera_probability 0.7
    for s in looking:
        units = dict(s.expression.units)
        assert units["eyeLookDownLeft"] > 0.6 and units["eyeLookDownRight"] > 0.6
        assert "eyeLookUpLeft" not in units


def _iris_share(model, verts, side="left"):
    """Share of the eye's iris seen from the front that the lids leave in view."""
    from facegen.generator.appearance import iris_masks
    from facegen.generator.preview import orthographic_view
    from facegen.generator.zbuffer import rasterize
    eye = model.region_mask(f"eyeball_{side}")
    iris = iris_masks(model)[0] & eye
    xy, depth, _ = orthographic_view(verts, "front", 256, verts[eye].mean(axis=0), 0.03)
    seen = []
    for faces in (model.faces, model.faces[eye[model.faces].all(axis=1)]):  # with the lids, the eye alone
        _, face_id, _ = rasterize(xy, depth, faces, 256, 256)
        seen.append(int(iris[faces].all(axis=1)[face_id[face_id >= 0]].sum()))
    return seen[0] / seen[1]


def test_upper_lids_rise_with_the_eyes(model, cfg, monkeypatch):
    """An eye turned up keeps most of its iris in view, as people looking up do: the eyeLookUp
    shape alone left more than half of it under the lid at 15 degrees."""
    from facegen.generator.head_model import Gaze
    plain = dataclasses.replace(cfg.expression, neutral_probability=1.0)
    rest = _iris_share(model, model.vertices())

    def share(up_deg, blink=False):
        gaze = Gaze(0.0, up_deg)
        blinking = dataclasses.replace(plain, neutral_probability=0.0, blink_probability=1.0, smile_probability=0.0,
                                       jaw_open_probability=0.0, extra_units=parse_dist(0, "extra_units"))
        e = samplers.sample_expression(blinking if blink else plain, gaze, np.random.default_rng(0))
        return _iris_share(model, model.vertices(expression=e, gaze=gaze)), dict(e.units)

    up15, units = share(15.0)
    assert units["eyeWideLeft"] == units["eyeWideRight"] > 0.8
    assert up15 > 0.9 * rest
    assert share(25.0)[0] > 0.65 * rest
    assert "eyeWideLeft" not in share(-15.0)[1]  # looking down: the lids come down with eyeLookDown
    # A blinking eye looking up stays closed.
    _, blinking = share(15.0, blink=True)
    assert blinking["eyeBlinkLeft"] >= 0.5 and blinking.get("eyeWideLeft", 0.0) <= 0.5
    monkeypatch.setattr(samplers, "LID_FOLLOW_WIDE", 0.0)
    assert share(15.0)[0] < 0.65 * rest


def test_a_share_of_smiles_part_the_lips(cfg, scenes, tmp_path):
    """expression.smile_teeth_probability (default 0) of the smiles part the lips over the teeth.
    That coin is drawn last: at 0.6 every scene is the same as at 0 but for the parted lips,
    which only add or raise the mouth units."""
    assert cfg.expression.smile_teeth_probability == 0.0
    path = tmp_path / "parted.yaml"
    path.write_text("expression:\n  smile_teeth_probability: 0.6\n")
    parted_cfg = load_scene_config(path)
    smiles = parted = 0
    for other in scenes:  # the default: closed lips
        s = sample_scene(parted_cfg, other.seed, other.index)
        if other == s:
            smiles += "mouthSmileLeft" in dict(s.expression.units)
            continue
        smiles, parted = smiles + 1, parted + 1
        assert dataclasses.replace(s, expression=other.expression) == other
        units, before = dict(s.expression.units), dict(other.expression.units)
        assert "mouthSmileLeft" in units and units["jawOpen"] >= 0.1
        assert units["mouthUpperUpLeft"] + units["mouthUpperUpRight"] >= 2 * 0.45  # 0.5 and up, but for asymmetry
        assert set(units) - set(before) <= {"jawOpen", "mouthUpperUpLeft", "mouthUpperUpRight",
                                            "mouthLowerDownLeft", "mouthLowerDownRight"}
        assert all(units[u] >= v for u, v in before.items())
    assert 0.5 < parted / smiles < 0.7


def test_default_ranges(scenes, model):
    yaw = np.array([s.head_pose.yaw_deg for s in scenes])
    assert yaw.min() >= -90 and yaw.max() <= 90
    assert np.abs(yaw).max() > 80  # profiles occur
    assert 20 < np.abs(yaw).mean() < 40
    def gaze_driven(s, unit, value):  # the lids following the eyes
        return unit.startswith("eyeLook") or (unit.startswith("eyeWide") and value == samplers.lid_lift(s.gaze))
    neutral = np.mean([not [u for u, v in s.expression.units if not gaze_driven(s, u, v)] for s in scenes])
    assert 0.18 < neutral < 0.32  # neutral_probability 0.25
    smiles = np.mean([any(u.startswith("mouthSmile") for u, _ in s.expression.units) for s in scenes])
    assert 0.15 < smiles < 0.35
    ages = np.array([dict(s.identity.attributes)["age"] for s in scenes])
    assert ages.min() >= 18 and ages.max() <= 80 and ages.std() > 12
    tone = np.array([s.skin.tone for s in scenes])
    assert tone.min() < 0.1 and tone.max() > 0.85  # very light to very dark skin
    assert all(len(s.identity.residual) == IDENTITY_COMPONENTS == model.n_components for s in scenes[:5])
    for s in scenes[:50]:
        for _, value in s.expression.units:
            assert 0.0 <= value <= 1.0
        assert 1 <= len(s.lighting.lights) <= 3


def test_sampled_identities_are_diverse(scenes, model):
    face = model.region_mask("face_skin")
    verts = np.stack([model.vertices(model.identity_from_params(s.identity))[face] for s in scenes[:40]])
    centred = verts - verts.mean(axis=1, keepdims=True)  # ignore where the face sits
    d = np.sqrt(((centred[:, None] - centred[None]) ** 2).sum(-1).mean(-1))
    off_diagonal = d[~np.eye(len(d), dtype=bool)]
    assert off_diagonal.min() > 0.001  # no two of 40 faces closer than 1 mm RMS
    assert np.median(off_diagonal) > 0.004


def test_camera_frames_the_face(scenes):
    cams = [s.camera for s in scenes]
    assert all(0.25 < c.distance_m < 3.0 for c in cams)
    assert all(35 <= c.focal_length_mm <= 110 for c in cams)
    dataclasses.asdict(cams[0])  # plain data


def test_negative_seed_or_index_rejected(cfg):
    with pytest.raises(ValueError):
        sample_scene(cfg, -1, 0)


def test_bystander_draws_are_their_own(cfg, tmp_path):
    """The bystander section: about bystander_probability of scenes have one, within the drawn
    ranges; making it certain changes nothing else, not even who the bystander is."""
    path = tmp_path / "crowd.yaml"
    path.write_text("bystander:\n  bystander_probability: 1.0\n")
    crowd = load_scene_config(path)
    for i in range(20):
        a, b = sample_scene(cfg, 3, i), sample_scene(crowd, 3, i)
        assert b.bystander.present and dataclasses.replace(a, bystander=b.bystander) == b
        assert dataclasses.replace(a.bystander, present=True) == b.bystander
    people = [sample_scene(cfg, 3, i).bystander for i in range(400)]
    assert 30 <= sum(p.present for p in people) <= 95  # 0.15 of 400 = 60
    assert all(0.5 <= p.behind_m <= 2.0 and 0.45 <= abs(p.across) <= 1.0 for p in people)
    assert len({p.identity for p in people}) == 400 and {p.across > 0 for p in people} == {True, False}


def test_repose_turns_eyes_on_the_lens_and_keeps_everything_else(model, cfg, monkeypatch):
    from facegen.generator.head_model import HeadPose
    from facegen.generator.projection import load_spec

    monkeypatch.setattr(samplers, "LID_FOLLOW_WIDE", 0.0)  # every unit but the eyeLook ones is then kept as drawn

    spec = load_spec("68", model)
    turned = 0
    for i in range(30):
        scene = sample_scene(cfg, 5, i)
        assert samplers.repose(cfg, scene) == scene  # nothing edited: the same scene
        pose = HeadPose(scene.head_pose.yaw_deg * 0.3, 25.0, 0.0)
        moved = samplers.repose(cfg, scene, head_pose=pose)
        assert moved.head_pose == pose and moved.camera == scene.camera
        assert dataclasses.replace(moved, head_pose=scene.head_pose, gaze=scene.gaze,
                                   expression=scene.expression) == scene
        lids = {u for u, _ in moved.expression.units if u.startswith("eyeLook")}
        assert [u for u in moved.expression.units if not u[0].startswith("eyeLook")] == \
               [u for u in scene.expression.units if not u[0].startswith("eyeLook")]
        if moved.gaze == scene.gaze:  # a free gaze stays where it was, relative to the head
            continue
        turned += 1
        assert {"eyeLookDownLeft", "eyeLookDownRight"} <= lids  # tipped back: they look down
        if abs(moved.gaze.pitch_deg) < samplers.EYE_PITCH_LIMIT_DEG and abs(moved.gaze.yaw_deg) < samplers.EYE_YAW_LIMIT_DEG:
            assert _look_at_camera_error_deg(model, spec, moved) < 5.0 + 6.0  # + the jitter's clip
    assert 12 < turned < 30  # at_camera_probability 0.7


def test_lens_reflectance_is_drawn_last_and_mostly_coated(cfg, tmp_path):
    path = tmp_path / "uncoated.yaml"
    path.write_text("occluders:\n  lens_reflectance: 0.04\n")
    uncoated = load_scene_config(path)
    drawn = []
    for i in range(300):
        a, b = sample_scene(cfg, 2, i), sample_scene(uncoated, 2, i)
        assert dataclasses.replace(a.occluders, lens_reflectance=0.04) == b.occluders  # no other draw moved
        drawn.append(a.occluders.lens_reflectance)
    assert set(drawn) == {0.005, 0.04}
    assert 0.5 < np.mean(np.array(drawn) == 0.005) < 0.7  # p 0.6 coated


def test_objects_are_mostly_held_as_people_hold_them(cfg, tmp_path):
    """The hold's draws come last: with holds off, the same scenes differ only in where their
    object sits. Held objects sit where HOLDS says (jittered); combs keep the random placement."""
    from facegen.generator import occluders

    path = tmp_path / "random.yaml"
    objects = "  object: {choice: [phone, coffee_cup, plastic_cup, comb, marker, baby_bottle]}\n"
    path.write_text("occluders:\n  object_probability: 1\n  object_hold_probability: 0\n" + objects)
    anywhere = load_scene_config(path)
    path.write_text("occluders:\n  object_probability: 1\n  object_hold_probability: 0.8\n" + objects)
    always = load_scene_config(path)
    held = []
    for i in range(200):
        a, b = sample_scene(always, 5, i).occluders, sample_scene(anywhere, 5, i).occluders
        assert b.object_shift_m == (0.0, 0.0, 0.0) and a.object == b.object
        moved = dict(object_anchor=b.object_anchor, object_offset_m=b.object_offset_m,
                     object_rotation_deg=b.object_rotation_deg, object_shift_m=b.object_shift_m,
                     object_held=b.object_held)
        assert dataclasses.replace(a, **moved) == b  # no other draw moved
        assert a.object_held == (a.object_shift_m != (0.0, 0.0, 0.0)) and not b.object_held
        if a.object_shift_m != (0.0, 0.0, 0.0):
            held.append(a.object)
            holds = occluders.HOLDS[a.object]
            assert a.object_offset_m == 0.0 and a.object_anchor in {h[1] for h in holds}
            near = min(np.abs(np.subtract(a.object_shift_m, h[2])).max() for h in holds if h[1] == a.object_anchor)
            assert near < 5 * occluders.HOLD_JITTER_M
        else:
            assert a == b or a.object not in occluders.HOLDS
    assert "comb" not in held and "comb" in {sample_scene(always, 5, i).occluders.object for i in range(200)}
    assert 0.7 < len(held) / sum(sample_scene(always, 5, i).occluders.object in occluders.HOLDS
                                                        for i in range(200)) < 0.9  # p 0.8
    path.write_text("occluders:\n  object_probability: 1\n")  # the default: every object held
    default = load_scene_config(path)
    assert all(sample_scene(default, 5, i).occluders.object_shift_m != (0.0, 0.0, 0.0) for i in range(50))
    stored = sample_scene(always, 5, 0).to_dict()
    del stored["occluders"]["object_shift_m"]  # scenes stored before holds: no shift
    assert SceneParams.from_dict(stored).occluders.object_shift_m == (0.0, 0.0, 0.0)


def test_key_light_is_drawn_last_and_mostly_in_front(cfg, tmp_path):
    path = tmp_path / "anywhere.yaml"
    path.write_text("environment:\n  key_light_front_probability: 0\n")
    anywhere = load_scene_config(path)
    front, azimuth = [], []
    for i in range(300):
        a, b = sample_scene(cfg, 3, i), sample_scene(anywhere, 3, i)
        assert dataclasses.replace(a.environment, key_light_front=False) == b.environment  # no other draw moved
        assert dataclasses.replace(a, environment=b.environment) == b
        front.append(a.environment.key_light_front)
        azimuth.append(a.environment.key_light_azimuth_deg)
    assert 0.6 < np.mean(front) < 0.8  # p 0.7
    # scenes stored before these fields read back with the map's own turn (rotation_deg)
    stored = sample_scene(cfg, 3, int(np.argmax(front))).to_dict()
    for key in ("key_light_front", "key_light_azimuth_deg"):
        del stored["environment"][key]
    assert SceneParams.from_dict(stored).environment.key_light_front is False
    assert np.abs(azimuth).max() <= 90.0 and 30 < np.std(azimuth) < 45  # N(0, 40) clipped to +-90


def test_hair_and_eye_colour_follow_ancestry(cfg, tmp_path):
    """Subjects of mostly African or East Asian ancestry have dark hair and brown eyes, as skin
    tone follows ancestry; the two draws come last in their sections, so with them off the same
    scenes differ only in hair melanin (the bystander's too) and iris colour, which then ignore
    ancestry."""
    path = tmp_path / "free.yaml"
    path.write_text("hair:\n  color_from_ancestry: false\neyes:\n  iris_from_ancestry: false\n")
    free = load_scene_config(path)
    dark, brown, dark_free, brown_free, n = 0, 0, 0, 0, 0
    for i in range(300):
        a, b = sample_scene(cfg, 6, i), sample_scene(free, 6, i)
        bystander = dataclasses.replace(a.bystander, hair=dataclasses.replace(a.bystander.hair,
                                                                              melanin=b.bystander.hair.melanin))
        assert dataclasses.replace(a, hair=dataclasses.replace(a.hair, melanin=b.hair.melanin),
                                   eyes=dataclasses.replace(a.eyes, iris_color=b.eyes.iris_color),
                                   bystander=bystander) == b
        if dict(a.identity.attributes)["caucasian"] < 0.2:
            n += 1
            dark, dark_free = dark + (a.hair.melanin > 0.6), dark_free + (b.hair.melanin > 0.6)
            brown, brown_free = brown + (a.eyes.iris_color == "brown"), brown_free + (b.eyes.iris_color == "brown")
    assert n > 80
    assert dark > 0.9 * n and brown > 0.85 * n
    assert dark_free < 0.8 * n and brown_free < 0.7 * n
