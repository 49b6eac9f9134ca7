"""``sample_scene(cfg, seed, index)``: every random draw of a sample, from (seed, index) alone.

Each section (identity, expression, ...) draws from its own generator, spawned from
``np.random.SeedSequence([seed, index])``, so editing one section's distributions leaves the
draws of the others unchanged, and no draw depends on worker count, batch or shard size.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from facegen.generator import occluders
from facegen.generator.camera import lens_direction
from facegen.generator.config import SceneConfig
from facegen.generator.hair import STYLE_LENGTH_M
from facegen.generator.head_model import Expression, Gaze, HeadPose, rotation_matrix
from facegen.generator.scene import (BackgroundParams, BystanderParams, CameraParams, ClothingParams, EnvironmentParams, EyeParams,
                                     HairParams, HandParams, IdentityParams, LightingParams, LightParams, NO_ENVIRONMENT, NO_STRANDS, OccluderParams, PhotoParams,
                                     SceneParams, SkinDetailParams, SkinParams, StrandParams)

# A gripping hand's fingertips lean toward the camera or the face by N(0, this) degrees (clipped at 2 sd).
GRIP_TILT_DEG = 8.0
# Number of identity components of the shipped head model (assets/MANIFEST.json).
IDENTITY_COMPONENTS = 80
NOMINAL_HEAD_HEIGHT_M = 0.25
# New sections go at the end: a section's generator depends only on its position here.
SECTIONS = ("identity", "expression", "gaze", "head_pose", "camera", "lighting", "skin", "eyes", "hair",
            "background", "clothing", "environment", "strands", "occluders", "skin_detail", "hands", "photo",
            "bystander")
# Skin tone centre of each ancestry (0 very light .. 1 very dark).
ANCESTRY_TONE = {"african": 0.8, "asian": 0.35, "caucasian": 0.15}
# Face units left to the gaze (they move the lids with the eyes) and pairs handled explicitly.
GAZE_UNITS = ("eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
              "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight")
EXTRA_UNITS = ("browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
               "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
               "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
               "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
               "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
               "mouthShrugLower", "mouthShrugUpper", "mouthStretchLeft", "mouthStretchRight",
               "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight", "tongueOut")
# Pairs of units that fire together (with some asymmetry): the name without Left/Right.
_PAIRED = sorted({u[:-4] for u in EXTRA_UNITS if u.endswith("Left")})
# Where the eyes sit relative to the face centre that cameras aim at, in the head's frame (x left,
# y back, z up), metres: measured on the mean head (`camera.face_centre` against the eyeballs' centre).
EYES_FROM_FACE_CENTRE_M = np.array([0.0, 0.013, 0.037])
# How far eyes turn in the head, degrees: a subject turned farther looks at the lens from the
# corners of the eyes, as far as they go (the default gaze clips).
EYE_YAW_LIMIT_DEG, EYE_PITCH_LIMIT_DEG = 35.0, 25.0


def scene_rngs(seed: int, index: int) -> dict[str, np.random.Generator]:
    """One generator per section, all from ``SeedSequence([seed, index])``."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0 (got seed={seed}, index={index})")
    children = np.random.SeedSequence([seed, index]).spawn(len(SECTIONS))
    return {name: np.random.default_rng(child) for name, child in zip(SECTIONS, children)}


def sample_identity(cfg, rng: np.random.Generator) -> IdentityParams:
    race = rng.dirichlet([cfg.ancestry_concentration] * 3)
    attributes = (
        ("age", cfg.age_years.sample(rng)),
        ("gender", cfg.gender.sample(rng)),
        ("weight", cfg.weight.sample(rng)),
        ("muscle", cfg.muscle.sample(rng)),
        ("height", cfg.height.sample(rng)),
        ("proportions", cfg.proportions.sample(rng)),
        ("african", float(race[0])),
        ("asian", float(race[1])),
        ("caucasian", float(race[2])),
    )
    residual = tuple(float(x) for x in rng.standard_normal(IDENTITY_COMPONENTS))
    return IdentityParams(attributes, residual, float(cfg.residual_scale.sample(rng)))


LOOK_UNIT_DEG = 30.0  # degrees of gaze that make a full eyeLook unit
# The upper lid follows the eye up (lid-eye coordination): people looking up keep about as much
# of the iris in view as looking ahead. The head's eyeLookUp shape barely lifts the lid: at 15
# degrees up it left 45 % of the iris in view (78 % looking ahead, seen from the front), at 25
# degrees 21 %; eyeWide lifts it. This much eyeWide per full eyeLookUp unit keeps 78 % at 15
# degrees; at 25 degrees eyeWide is at its 1.0 and 59 % shows.
LID_FOLLOW_WIDE = 1.75


def lid_lift(gaze: Gaze) -> float:
    """The eyeWide activation that lifts the upper lids with eyes turned ``gaze.pitch_deg`` up."""
    return float(np.clip(LID_FOLLOW_WIDE * gaze.pitch_deg / LOOK_UNIT_DEG, 0.0, 1.0))


# A smile with the lips parted over the teeth (expression.smile_teeth_probability): these units at
# base + slope x the smile's strength (0..1), each at least what was drawn for it already.
SMILE_TEETH_UNITS = {"mouthUpperUp": (0.5, 0.2), "mouthLowerDown": (0.2, 0.2), "jawOpen": (0.1, 0.05)}


def _pair(units: dict, stem: str, value: float, asym: float) -> None:
    units[stem + "Left"] = float(np.clip(value * (1 + asym), 0, 1))
    units[stem + "Right"] = float(np.clip(value * (1 - asym), 0, 1))


def sample_expression(cfg, gaze: Gaze, rng: np.random.Generator) -> Expression:
    """Face units: blinks, winks, smiles, an open jaw and a few random units; the eyeLook units
    follow the gaze so the lids move with the eyes."""
    draws = rng.random(5)  # neutral, blink, wink, smile, jaw: always drawn, in this order
    units: dict[str, float] = {}
    if draws[0] >= cfg.neutral_probability:
        if draws[1] < cfg.blink_probability:
            _pair(units, "eyeBlink", 0.5 + 0.5 * cfg.intensity.sample(rng), cfg.asymmetry.sample(rng) * 0.3)
        elif draws[2] < cfg.wink_probability:
            side = "Left" if rng.random() < 0.5 else "Right"
            units["eyeBlink" + side] = 0.8 + 0.2 * rng.random()
        if draws[3] < cfg.smile_probability:
            strength, asym = cfg.intensity.sample(rng), cfg.asymmetry.sample(rng)
            _pair(units, "mouthSmile", 0.3 + 0.7 * strength, asym)
            _pair(units, "cheekSquint", 0.6 * strength, asym)
        if draws[4] < cfg.jaw_open_probability:
            units["jawOpen"] = 0.15 + 0.85 * cfg.intensity.sample(rng)
        for _ in range(int(cfg.extra_units.sample(rng))):
            name = EXTRA_UNITS[int(rng.integers(len(EXTRA_UNITS)))]
            value, asym = cfg.intensity.sample(rng), cfg.asymmetry.sample(rng)
            stem = name[:-4] if name.endswith("Left") else name[:-5] if name.endswith("Right") else None
            if stem in _PAIRED:
                _pair(units, stem, value, asym)
            else:
                units[name] = float(value)
        if not units:  # a non-neutral face shows at least one unit
            units[EXTRA_UNITS[int(rng.integers(len(EXTRA_UNITS)))]] = float(cfg.intensity.sample(rng))
        # Drawn last, and not at all at probability 0 (a bystander's generator draws on after this).
        p_teeth = cfg.smile_teeth_probability
        if draws[3] < cfg.smile_probability and p_teeth > 0 and rng.random() < p_teeth:
            parted: dict[str, float] = {}
            for stem, (base, slope) in SMILE_TEETH_UNITS.items():
                if stem in _PAIRED:
                    _pair(parted, stem, base + slope * strength, asym)
                else:
                    parted[stem] = base + slope * strength
            for unit, value in parted.items():
                units[unit] = max(units.get(unit, 0.0), value)
    # Lids follow the eyes: LOOK_UNIT_DEG of gaze is a full eyeLook unit.
    up, side = gaze.pitch_deg / LOOK_UNIT_DEG, gaze.yaw_deg / LOOK_UNIT_DEG
    look = {"eyeLookUp": max(up, 0.0), "eyeLookDown": max(-up, 0.0)}
    for stem, value in look.items():
        if value > 0:
            units[stem + "Left"] = units[stem + "Right"] = float(min(value, 1.0))
    # The upper lid rises with the eye (lid_lift); a blinking lid stays down.
    for side_name in ("Left", "Right"):
        lift = lid_lift(gaze) * (1.0 - units.get("eyeBlink" + side_name, 0.0))
        if lift > units.get("eyeWide" + side_name, 0.0):
            units["eyeWide" + side_name] = float(lift)
    if side > 0:  # toward the subject's left: the left eye looks out, the right eye in
        units["eyeLookOutLeft"] = units["eyeLookInRight"] = float(min(side, 1.0))
    elif side < 0:
        units["eyeLookInLeft"] = units["eyeLookOutRight"] = float(min(-side, 1.0))
    return Expression(tuple(sorted(units.items())))


def sample_camera(cfg, rng: np.random.Generator) -> CameraParams:
    focal = cfg.focal_length_mm.sample(rng)
    fill = cfg.head_fill.sample(rng)
    # A head of nominal height covers `fill` of the image height (square images): h*f/(d*s) = fill.
    distance = NOMINAL_HEAD_HEIGHT_M * focal / (cfg.sensor_width_mm * fill)
    return CameraParams(
        focal_length_mm=focal,
        sensor_width_mm=cfg.sensor_width_mm,
        distance_m=float(distance),
        azimuth_deg=cfg.azimuth_deg.sample(rng),
        elevation_deg=cfg.elevation_deg.sample(rng),
        roll_deg=cfg.roll_deg.sample(rng),
        target_offset_m=tuple(float(cfg.target_jitter.sample(rng) * NOMINAL_HEAD_HEIGHT_M) for _ in range(3)),
        principal_point_offset=(cfg.principal_point_jitter.sample(rng), cfg.principal_point_jitter.sample(rng)),
    )


def sample_lighting(cfg, rng: np.random.Generator) -> LightingParams:
    env = cfg.environment.sample(rng)
    strength = cfg.environment_strength.sample(rng)
    rotation = cfg.environment_rotation_deg.sample(rng)
    n = max(1, int(cfg.light_count.sample(rng)))
    lights = [LightParams(cfg.light_power_w.sample(rng), cfg.light_temperature_k.sample(rng),
                          cfg.light_azimuth_deg.sample(rng), cfg.light_elevation_deg.sample(rng),
                          cfg.light_distance_m.sample(rng), cfg.light_size_m.sample(rng)) for _ in range(n)]
    if rng.random() < cfg.hard_side_light_probability:
        side = 1.0 if rng.random() < 0.5 else -1.0
        lights[0] = LightParams(power_w=float(rng.uniform(150, 400)), temperature_k=lights[0].temperature_k,
                                azimuth_deg=float(side * rng.uniform(70, 110)),
                                elevation_deg=float(rng.uniform(-10, 30)), distance_m=lights[0].distance_m,
                                size_m=float(rng.uniform(0.005, 0.03)))
    return LightingParams(str(env), strength, rotation, tuple(lights))


def sample_skin(cfg, identity: IdentityParams, rng: np.random.Generator) -> SkinParams:
    attrs = dict(identity.attributes)
    centre = sum(ANCESTRY_TONE[k] * attrs[k] for k in ANCESTRY_TONE) if cfg.tone_from_ancestry else 0.0
    return SkinParams(
        tone=float(np.clip(centre + cfg.tone.sample(rng), 0.0, 1.0)),
        roughness=cfg.roughness.sample(rng), specular=cfg.specular.sample(rng),
        subsurface_scale=cfg.subsurface_scale.sample(rng), lip_redness=cfg.lip_redness.sample(rng),
        cheek_tint=cfg.cheek_tint.sample(rng), eyelid_tint=cfg.eyelid_tint.sample(rng),
        bump_strength=cfg.bump_strength.sample(rng),
    )


def from_ancestry(identity: IdentityParams, rng: np.random.Generator) -> bool:
    """True with the probability of the identity's african + asian ancestry shares (one draw)."""
    return bool(rng.random() >= dict(identity.attributes)["caucasian"])


def sample_hair(cfg, identity: IdentityParams, rng: np.random.Generator) -> HairParams:
    """The hair section's draws, hair colour from ``color_melanin`` (``hair_by_ancestry`` may
    change it: its draws come after every other draw of the generator)."""
    draws = rng.random(2)
    male = dict(identity.attributes)["gender"] > 0.5
    return HairParams(
        scalp_hair=bool(draws[0] < cfg.scalp_hair_probability), melanin=cfg.color_melanin.sample(rng),
        redness=cfg.color_redness.sample(rng), grey=cfg.grey.sample(rng), length_m=cfg.length_m.sample(rng),
        beard=bool(male and draws[1] < cfg.beard_probability), eyebrow_density=cfg.eyebrow_density.sample(rng),
    )


def hair_by_ancestry(cfg, identity: IdentityParams, rng: np.random.Generator, hair: HairParams) -> HairParams:
    """``hair`` with melanin from ``dark_melanin`` with the probability of the identity's african +
    asian shares, when ``color_from_ancestry`` is on; both draws are made whatever the outcome."""
    dark, dark_haired = cfg.dark_melanin.sample(rng), from_ancestry(identity, rng)
    return dataclasses.replace(hair, melanin=dark) if cfg.color_from_ancestry and dark_haired else hair


def sample_eyes(cfg, identity: IdentityParams, rng: np.random.Generator) -> EyeParams:
    eyes = EyeParams(str(cfg.iris_color.sample(rng)), cfg.iris_brightness.sample(rng), cfg.pupil_size.sample(rng),
                     cfg.sclera_redness.sample(rng), cfg.cornea_roughness.sample(rng))
    brown_eyed = from_ancestry(identity, rng)  # drawn last, always
    return dataclasses.replace(eyes, iris_color="brown") if cfg.iris_from_ancestry and brown_eyed else eyes


def sample_background(cfg, rng: np.random.Generator) -> BackgroundParams:
    kind = str(cfg.kind.sample(rng))

    def hsv():
        return (cfg.hue.sample(rng), cfg.saturation.sample(rng), cfg.value.sample(rng))

    base, second = hsv(), hsv()
    scale, pick = cfg.noise_scale.sample(rng), float(rng.random())
    occluder = bool(rng.random() < cfg.occluder_probability)
    occ_xy = (float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.3, 0.9)))
    return BackgroundParams(kind, base, second, scale, cfg.image_folder, pick, occluder, occ_xy,
                            float(rng.uniform(0.05, 0.2)), hsv())


def sample_environment(cfg, rng: np.random.Generator) -> EnvironmentParams:
    """The image-based light: every draw is made whatever the outcome, so the count is fixed."""
    use = rng.random() < cfg.hdri_probability
    name, pick = str(cfg.hdri.sample(rng)), float(rng.random())
    rotation, ev, wb = cfg.rotation_deg.sample(rng), cfg.exposure_ev.sample(rng), cfg.white_balance_k.sample(rng)
    visible = rng.random() < cfg.background_visible_probability
    defocus, f_stop = rng.random() < cfg.defocus_probability, cfg.f_stop.sample(rng)
    extra = rng.random() < cfg.extra_lights_probability
    # drawn last: the draws above stay as they were
    front, key_azimuth = rng.random() < cfg.key_light_front_probability, cfg.key_light_azimuth_deg.sample(rng)
    if not use:
        return NO_ENVIRONMENT
    return EnvironmentParams(name, cfg.hdri_folder, pick, rotation, ev, wb, bool(visible), bool(defocus), f_stop,
                             bool(extra), bool(front), float(key_azimuth))


def sample_strands(cfg, hair: HairParams, rng: np.random.Generator) -> StrandParams:
    """Strand hair; every draw is made whatever the outcome, so the count is fixed."""
    use = rng.random() < cfg.strand_probability
    style = str(cfg.style.sample(rng))
    lo, hi = STYLE_LENGTH_M[style]
    length = lo + cfg.length.sample(rng) * (hi - lo)
    draws = [cfg.density_per_cm2, cfg.volume_m, cfg.part_x_m, cfg.comb_back, cfg.clumping, cfg.curl_radius_m,
             cfg.frizz, cfg.hairline_recession_m, cfg.brow_length_m, cfg.lash_length_m]
    values = [d.sample(rng) for d in draws]
    beard_style = str(cfg.beard_style.sample(rng))
    beard_length, beard_density = cfg.beard_length_m.sample(rng), cfg.beard_density.sample(rng)
    seed = int(rng.integers(2 ** 31))
    if not use:
        return NO_STRANDS
    return StrandParams("bald" if not hair.scalp_hair else style, float(length), *values,
                        beard_style if hair.beard else "none", beard_length, beard_density, seed)


def sample_occluders(cfg, rng: np.random.Generator, head_pose: HeadPose | None = None) -> OccluderParams:
    """Glasses and a held object; every draw is made whatever the outcome, so the count is fixed.
    ``head_pose`` keeps upright holds level (``occluders.hold``)."""
    draws = rng.random(2)
    sizes = [d.sample(rng) for d in (cfg.lens_width_m, cfg.lens_height_m, cfg.roundness, cfg.frame_radius_m,
                                     cfg.spread_m, cfg.drop_m)]
    hsv = (cfg.frame_hue.sample(rng), cfg.frame_saturation.sample(rng), cfg.frame_value.sample(rng))
    kind = "none" if draws[0] >= cfg.glasses_probability else (
        "sunglasses" if draws[1] < cfg.sunglasses_probability else "clear")
    held = rng.random() < cfg.object_probability
    thing, anchor, offset = str(cfg.object.sample(rng)), str(cfg.object_anchor.sample(rng)), cfg.object_offset_m.sample(rng)
    turn, scale = tuple(float(a) for a in rng.uniform(-180.0, 180.0, 3)), cfg.object_scale.sample(rng)
    reflectance = float(cfg.lens_reflectance.sample(rng))  # drawn last: the draws above stay as they were
    natural, pick, jitter = rng.random() < cfg.object_hold_probability, float(rng.random()), rng.standard_normal(6)
    shift = (0.0, 0.0, 0.0)
    head = None if head_pose is None else rotation_matrix(head_pose.yaw_deg, head_pose.pitch_deg, head_pose.roll_deg)
    placed = occluders.hold(thing, pick, jitter, head) if natural and held else None
    if placed is not None:  # held as people hold it: placed in the head's frame, not toward the camera
        anchor, shift, turn = placed
        offset = 0.0
    return OccluderParams(kind, *sizes, hsv, thing if held else "none", anchor, offset, turn, scale, reflectance,
                          shift, placed is not None)


def sample_skin_detail(cfg, rng: np.random.Generator) -> SkinDetailParams:
    values = [d.sample(rng) for d in (cfg.mottling, cfg.redness, cfg.freckles, cfg.roughness_variation)]
    return SkinDetailParams(*values, tuple(float(x) for x in rng.uniform(0.0, 100.0, 3)))


def sample_hands(cfg, rng: np.random.Generator, held: OccluderParams | None = None) -> HandParams:
    """A hand held up to the face, or none; or, ``object_grip_probability`` of the time, the hand
    gripping the scene's ``held`` object where it is held as people hold it and its hold has a
    grip (``occluders.GRIPS``), in place of the other. Every draw is made whatever the outcome
    (the grip's last)."""
    up, left = rng.random(2)
    pose, anchor = str(cfg.pose.sample(rng)), str(cfg.anchor.sample(rng))
    offset, slide = cfg.offset_m.sample(rng), (cfg.slide_m.sample(rng), cfg.slide_m.sample(rng))
    roll, turn, tilt, scale = (d.sample(rng) for d in (cfg.roll_deg, cfg.turn_deg, cfg.tilt_deg, cfg.scale))
    gripped, side_pick, roll_pick = rng.random(3)
    grip_tilt = GRIP_TILT_DEG * float(np.clip(rng.standard_normal(), -2.0, 2.0))
    if held is not None and held.object_held and gripped < cfg.object_grip_probability:
        fields = occluders.grip(held.object, held.object_anchor, held.object_shift_m, held.object_rotation_deg,
                                held.object_scale, side_pick, roll_pick, grip_tilt, scale)
        if fields is not None:
            return HandParams(**fields)
    hand = "none" if up >= cfg.hand_probability else ("left" if left < cfg.left_probability else "right")
    return HandParams(hand, pose, anchor, offset, slide, roll, turn, tilt, scale)


def sample_photo(cfg, rng: np.random.Generator) -> PhotoParams:
    """The camera's finish; every draw is made whatever the outcome."""
    values = [d.sample(rng) for d in (cfg.metering, cfg.sharpen, cfg.sharpen_radius_px, cfg.noise)]
    jpeg, quality = rng.random() < cfg.jpeg_probability, int(cfg.jpeg_quality.sample(rng))
    return PhotoParams(*values, quality if jpeg else 0, int(rng.integers(2 ** 31)))


def sample_clothing(cfg, rng: np.random.Generator) -> ClothingParams:
    return ClothingParams((cfg.hue.sample(rng), cfg.saturation.sample(rng), cfg.value.sample(rng)),
                          str(cfg.neckline.sample(rng)), cfg.neckline_depth_m.sample(rng))


def sample_bystander(cfg: SceneConfig, rng: np.random.Generator) -> BystanderParams:
    """A second person: who, how they look and where, from the scene config's person sections and
    its ``bystander`` section; every draw is made whatever the outcome."""
    b = cfg.bystander
    present = bool(rng.random() < b.bystander_probability)
    identity = sample_identity(cfg.identity, rng)
    # Closed-lip smiles: a parted-lips coin here would move every draw below it.
    closed_lips = dataclasses.replace(cfg.expression, smile_teeth_probability=0.0)
    expression = sample_expression(closed_lips, Gaze(0.0, 0.0), rng)
    pose = HeadPose(b.yaw_deg.sample(rng), cfg.head_pose.pitch_deg.sample(rng), cfg.head_pose.roll_deg.sample(rng))
    skin, hair = sample_skin(cfg.skin, identity, rng), sample_hair(cfg.hair, identity, rng)
    clothing = sample_clothing(cfg.clothing, rng)
    side = 1.0 if rng.random() < 0.5 else -1.0
    behind, across, up = b.behind_m.sample(rng), side * b.across.sample(rng), b.up_m.sample(rng)
    hair = hair_by_ancestry(cfg.hair, identity, rng, hair)  # drawn last: the draws above stay as they were
    return BystanderParams(present, identity, expression, pose, skin, hair, clothing, behind, across, up)


def gaze_at_camera(pose: HeadPose, camera: CameraParams, jitter_deg: tuple[float, float] = (0.0, 0.0)) -> Gaze:
    """The head-relative gaze of eyes looking into the lens of ``camera`` from a head posed by
    ``pose``, plus ``jitter_deg`` (yaw, pitch), within the eyes' turn (EYE_*_LIMIT_DEG)."""
    lens = np.asarray(camera.target_offset_m) + camera.distance_m * lens_direction(camera)  # from the face centre
    v = rotation_matrix(pose.yaw_deg, pose.pitch_deg, pose.roll_deg).T @ lens - EYES_FROM_FACE_CENTRE_M
    yaw = np.degrees(np.arctan2(v[0], -v[1])) + jitter_deg[0]  # as rotation_matrix turns (0, -1, 0)
    pitch = np.degrees(np.arctan2(v[2], np.hypot(v[0], v[1]))) + jitter_deg[1]
    return Gaze(float(np.clip(yaw, -EYE_YAW_LIMIT_DEG, EYE_YAW_LIMIT_DEG)),
                float(np.clip(pitch, -EYE_PITCH_LIMIT_DEG, EYE_PITCH_LIMIT_DEG)))


def _eyes_and_lids(cfg: SceneConfig, rngs: dict[str, np.random.Generator], pose: HeadPose,
                   camera: CameraParams) -> tuple[Gaze, Expression]:
    """The gaze for this head pose and camera, and the expression with the lids following that
    gaze: the gaze and expression sections' draws, from their fresh generators in ``rngs``."""
    g = rngs["gaze"]
    gaze = Gaze(cfg.gaze.yaw_deg.sample(g), cfg.gaze.pitch_deg.sample(g))
    at_camera = g.random() < cfg.gaze.at_camera_probability  # drawn after the free gaze, always
    jitter = (cfg.gaze.at_camera_jitter_deg.sample(g), cfg.gaze.at_camera_jitter_deg.sample(g))
    if at_camera:
        gaze = gaze_at_camera(pose, camera, jitter)
    return gaze, sample_expression(cfg.expression, gaze, rngs["expression"])


def repose(cfg: SceneConfig, scene: SceneParams, head_pose: HeadPose | None = None,
           camera: CameraParams | None = None) -> SceneParams:
    """``scene`` (sampled from ``cfg``) with another head pose and/or camera: eyes that look into
    the lens turn to it again, and the lids follow; every other parameter stays."""
    pose = scene.head_pose if head_pose is None else head_pose
    camera = scene.camera if camera is None else camera
    gaze, expression = _eyes_and_lids(cfg, scene_rngs(scene.seed, scene.index), pose, camera)
    return dataclasses.replace(scene, head_pose=pose, camera=camera, gaze=gaze, expression=expression)


def sample_scene(cfg: SceneConfig, seed: int, index: int) -> SceneParams:
    """All parameters of sample ``index`` of the dataset with ``seed``: a pure function."""
    rngs = scene_rngs(seed, index)
    identity = sample_identity(cfg.identity, rngs["identity"])
    p = rngs["head_pose"]
    pose = HeadPose(cfg.head_pose.yaw_deg.sample(p), cfg.head_pose.pitch_deg.sample(p),
                    cfg.head_pose.roll_deg.sample(p))
    camera = sample_camera(cfg.camera, rngs["camera"])
    gaze, expression = _eyes_and_lids(cfg, rngs, pose, camera)
    hair = hair_by_ancestry(cfg.hair, identity, rngs["hair"], sample_hair(cfg.hair, identity, rngs["hair"]))
    eyes = sample_eyes(cfg.eyes, identity, rngs["eyes"])
    occluders_ = sample_occluders(cfg.occluders, rngs["occluders"], pose)
    return SceneParams(
        seed=int(seed), index=int(index), identity=identity,
        expression=expression,
        gaze=gaze, head_pose=pose, camera=camera,
        lighting=sample_lighting(cfg.lighting, rngs["lighting"]),
        skin=sample_skin(cfg.skin, identity, rngs["skin"]), eyes=eyes,
        hair=hair,
        background=sample_background(cfg.background, rngs["background"]),
        clothing=sample_clothing(cfg.clothing, rngs["clothing"]),
        environment=sample_environment(cfg.environment, rngs["environment"]),
        strands=sample_strands(cfg.strands, hair, rngs["strands"]),
        occluders=occluders_,
        skin_detail=sample_skin_detail(cfg.skin_detail, rngs["skin_detail"]),
        hands=sample_hands(cfg.hands, rngs["hands"], occluders_),
        photo=sample_photo(cfg.photo, rngs["photo"]),
        bystander=sample_bystander(cfg, rngs["bystander"]),
    )
