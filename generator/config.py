"""Scene configuration: the distributions every scene parameter is drawn from.

Defaults live in ``generator/default_scene.yaml`` (documented there, key by key). A user config
is a YAML file with the same layout that overrides any subset of keys; unknown keys, wrong
types and impossible ranges are rejected with one line naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from facegen.generator.distributions import ConfigError, Dist, parse_dist
from facegen.generator.appearance import NECKLINES
from facegen.generator.hair import BEARD_STYLES, STYLE_LENGTH_M
from facegen.generator.occluders import ANCHORS, HAND_POSES, OBJECT_NAMES
from facegen.user_input import field_range, finite, ranged, read_yaml

# Every numeric field declares its valid range (``ranged(lo, hi)``, also in default_scene.yaml's
# comments): everything a distribution can draw must lie inside it (``distributions.parse_dist``).
MAX_EXTRA_UNITS = 37  # extra_units' maximum: the number of samplers.EXTRA_UNITS
CAMERA_DISTANCE_M = (0.25, 20.0)  # camera distance focal_length_mm, sensor_width_mm and head_fill may give


@dataclass(frozen=True)
class IdentityConfig:
    age_years: Dist = ranged(16, 85)  # age in years (the head model is fitted on 16..85)
    gender: Dist = ranged(0, 1)  # 0 female .. 1 male
    weight: Dist = ranged(0, 1)  # 0 thin .. 1 heavy
    muscle: Dist = ranged(0, 1)  # 0 .. 1
    height: Dist = ranged(0, 1)  # 0 .. 1 (changes head and neck proportions a little)
    proportions: Dist = ranged(0, 1)  # 0 ideal .. 1 uncommon proportions
    ancestry_concentration: float = ranged(0.01, 100)  # Dirichlet concentration of (african, asian, caucasian) shares
    residual_scale: Dist = ranged(0, 3)  # local face-shape variation beyond the attributes, x its fitted spread


@dataclass(frozen=True)
class ExpressionConfig:
    neutral_probability: float = ranged(0, 1)  # share of faces with no face unit active at all
    blink_probability: float = ranged(0, 1)  # share of faces with both eyes (partly) closed
    wink_probability: float = ranged(0, 1)  # share of faces with one eye closed
    smile_probability: float = ranged(0, 1)  # share of faces smiling (mouthSmile, cheekSquint)
    smile_teeth_probability: float = ranged(0, 1)  # share of those smiles with the lips parted over the teeth
    jaw_open_probability: float = ranged(0, 1)  # share of faces with the jaw open
    extra_units: Dist = ranged(0, MAX_EXTRA_UNITS)  # number of other face units switched on at random
    intensity: Dist = ranged(0, 1)  # activation of each switched-on unit
    asymmetry: Dist = ranged(-1, 1)  # left/right difference of paired units, as a fraction of the activation


@dataclass(frozen=True)
class GazeConfig:
    yaw_deg: Dist = ranged(-45, 45)  # eyes relative to the head when not looking at the camera; > 0 toward the subject's left
    pitch_deg: Dist = ranged(-45, 45)  # > 0 up
    at_camera_probability: float = ranged(0, 1)  # share of subjects looking into the lens, whatever the head's pose
    at_camera_jitter_deg: Dist = ranged(-10, 10)  # their eyes' miss of the lens, each of yaw and pitch


@dataclass(frozen=True)
class HeadPoseConfig:
    yaw_deg: Dist = ranged(-90, 90)  # head relative to the shoulders; +-90 is a profile
    pitch_deg: Dist = ranged(-60, 60)  # > 0 chin up
    roll_deg: Dist = ranged(-60, 60)  # > 0 toward the subject's left shoulder


@dataclass(frozen=True)
class CameraConfig:
    sensor_width_mm: float = ranged(10, 100)  # full-frame equivalent sensor width
    focal_length_mm: Dist = ranged(10, 500)  # lens focal length (sets perspective strength)
    head_fill: Dist = ranged(0.05, 1)  # image height fraction covered by a nominal 0.25 m head; sets the distance
    #                                    (CAMERA_DISTANCE_M bounds it with focal_length_mm and sensor_width_mm)
    azimuth_deg: Dist = ranged(-90, 90)  # camera around the shoulders' vertical axis; 0 in front, > 0 toward +x
    elevation_deg: Dist = ranged(-60, 60)  # camera above (> 0) or below the face
    roll_deg: Dist = ranged(-180, 180)  # camera roll about its viewing axis
    target_jitter: Dist = ranged(-0.5, 0.5)  # look-at offset from the face centre, fraction of the nominal head height
    principal_point_jitter: Dist = ranged(-0.25, 0.25)  # principal point offset from the image centre, fraction of width


@dataclass(frozen=True)
class LightingConfig:
    environment: Dist  # world lighting: sky | gradient | uniform
    environment_strength: Dist = ranged(0, 10)  # world brightness multiplier
    environment_rotation_deg: Dist = ranged(-360, 360)  # world rotation about the vertical axis
    light_count: Dist = ranged(0, 4)  # number of lights besides the world (rounded down, >= 1; backends draw <= 3)
    light_power_w: Dist = ranged(0, 10000)  # power of each light
    light_temperature_k: Dist = ranged(1000, 20000)  # colour temperature of each light
    light_azimuth_deg: Dist = ranged(-360, 360)  # direction the light comes from, around the face; 0 is the camera side
    light_elevation_deg: Dist = ranged(-90, 90)  # height of the light above the face's horizon
    light_distance_m: Dist = ranged(0.1, 20)  # distance from the face centre
    light_size_m: Dist = ranged(0.001, 5)  # radius of the (area/spot) light; small is hard light
    hard_side_light_probability: float = ranged(0, 1)  # share of scenes with one small, strong light from the side


@dataclass(frozen=True)
class SkinConfig:
    tone_from_ancestry: bool  # centre the tone on the identity's ancestry shares (else tone only)
    tone: Dist = ranged(-1, 1)  # 0 very light .. 1 very dark (added to the ancestry centre when that is on)
    roughness: Dist = ranged(0, 1)  # specular roughness
    specular: Dist = ranged(0, 1)  # specular intensity
    subsurface_scale: Dist = ranged(0, 10)  # multiplier on the subsurface scattering radius
    lip_redness: Dist = ranged(0, 1)  # 0 .. 1
    cheek_tint: Dist = ranged(0, 1)  # 0 .. 1 redness of the cheeks
    eyelid_tint: Dist = ranged(0, 1)  # 0 .. 1 darkening of the eyelids
    bump_strength: Dist = ranged(0, 2)  # pores and fine wrinkles


@dataclass(frozen=True)
class EyesConfig:
    iris_color: Dist  # brown | hazel | green | blue | grey
    iris_brightness: Dist = ranged(0, 1)  # 0 dark .. 1 light iris
    pupil_size: Dist = ranged(0.05, 0.95)  # pupil radius as a fraction of the iris radius
    sclera_redness: Dist = ranged(0, 1)  # 0 .. 1
    cornea_roughness: Dist = ranged(0, 1)  # glossiness of the cornea highlight
    iris_from_ancestry: bool  # the african and asian shares of the ancestry have brown eyes


@dataclass(frozen=True)
class HairConfig:
    scalp_hair_probability: float = ranged(0, 1)  # share of heads with scalp hair (others are shaved/bald)
    color_melanin: Dist = ranged(0, 1)  # hair melanin, 0 blond/white .. 1 black
    color_redness: Dist = ranged(0, 1)  # pheomelanin share (red hair)
    grey: Dist = ranged(0, 1)  # share of grey hairs
    length_m: Dist = ranged(0, 1)  # scalp hair length
    beard_probability: float = ranged(0, 1)  # share of faces with stubble or beard (only if gender > 0.5)
    eyebrow_density: Dist = ranged(0, 1)  # 0 sparse .. 1 dense
    color_from_ancestry: bool  # the african and asian shares of the ancestry draw dark_melanin
    dark_melanin: Dist = ranged(0, 1)  # hair melanin of those shares (black to dark brown)


@dataclass(frozen=True)
class BackgroundConfig:
    kind: Dist  # solid | gradient | noise | image (image only with image_folder)
    hue: Dist = ranged(0, 1)  # 0..1
    saturation: Dist = ranged(0, 1)  # 0..1
    value: Dist = ranged(0, 1)  # 0..1 brightness
    noise_scale: Dist = ranged(0.01, 1000)  # feature size of procedural backgrounds
    image_folder: str  # folder of background pictures ("" for none)
    occluder_probability: float = ranged(0, 1)  # share of images with a random object in front of the face


@dataclass(frozen=True)
class ClothingConfig:
    hue: Dist = ranged(0, 1)  # 0..1
    saturation: Dist = ranged(0, 1)  # 0..1
    value: Dist = ranged(0, 1)  # 0..1 brightness
    neckline: Dist  # crew | scoop | v_neck | bare_shoulders (appearance.NECKLINES)
    neckline_depth_m: Dist = ranged(0, 0.2)  # a scoop's or V's dip below the neck at the front


@dataclass(frozen=True)
class EnvironmentConfig:
    hdri_probability: float = ranged(0, 1)  # share of scenes lit by an HDRI; the others get the `lighting` section's world
    hdri: Dist  # one of Blender's bundled CC0 maps (HDRI_NAMES), or "folder": a map from hdri_folder
    hdri_folder: str  # folder of .exr/.hdr equirectangular maps for hdri "folder" ("" for none)
    rotation_deg: Dist = ranged(-360, 360)  # map rotation about the vertical axis
    exposure_ev: Dist = ranged(-10, 10)  # brightness in stops around the map's normalised level
    white_balance_k: Dist = ranged(1000, 20000)  # the camera's white balance (6500 K neutral; lower turns the picture bluer)
    background_visible_probability: float = ranged(0, 1)  # with an HDRI: the camera sees it (else the `background` backdrop)
    defocus_probability: float = ranged(0, 1)  # depth of field focused on the face, the background blurred (Cycles)
    f_stop: Dist = ranged(0.5, 64)  # aperture of that depth of field
    extra_lights_probability: float = ranged(0, 1)  # with an HDRI: the `lighting` section's disk lights shine too
    key_light_front_probability: float = ranged(0, 1)  # the map turned to put its main light in front of the face
    key_light_azimuth_deg: Dist = ranged(-180, 180)  # that light's angle from the camera, seen from the face


@dataclass(frozen=True)
class StrandsConfig:
    strand_probability: float = ranged(0, 1)  # share of scenes with strand hair (Cycles); the others keep the painted hair of `hair`
    style: Dist  # buzz | short | medium | long | curly | tied_back (bald heads: hair.scalp_hair_probability)
    length: Dist = ranged(0, 1)  # where in the style's length range (generator/hair.py STYLE_LENGTH_M) 0 .. 1
    density_per_cm2: Dist = ranged(1, 500)  # scalp strands per square centimetre
    volume_m: Dist = ranged(0, 0.05)  # how far the hair stands off the scalp
    part_x_m: Dist = ranged(-0.08, 0.08)  # the parting, sideways from the middle of the head
    comb_back: Dist = ranged(0, 1)  # 0 hair falls to the sides of the parting .. 1 combed back
    clumping: Dist = ranged(0, 1)  # strands gathered into locks
    curl_radius_m: Dist = ranged(0.001, 0.05)  # curly style
    frizz: Dist = ranged(0, 1)  # stray strands
    hairline_recession_m: Dist = ranged(0, 0.08)  # forehead and temples lifted by
    brow_length_m: Dist = ranged(0.002, 0.03)  # eyebrow hairs
    lash_length_m: Dist = ranged(0.002, 0.02)  # upper lashes (the lower ones are half)
    beard_style: Dist  # stubble | moustache | goatee | short | full (faces with hair.beard)
    beard_length_m: Dist = ranged(0.001, 0.2)
    beard_density: Dist = ranged(0, 1)


@dataclass(frozen=True)
class OccludersConfig:
    glasses_probability: float = ranged(0, 1)  # share of faces wearing glasses (Cycles and raster)
    sunglasses_probability: float = ranged(0, 1)  # share of those glasses with dark lenses (they occlude the eyes)
    lens_width_m: Dist = ranged(0.03, 0.08)
    lens_height_m: Dist = ranged(0.02, 0.06)
    roundness: Dist = ranged(0, 1)  # 0 boxy .. 1 oval rims
    frame_radius_m: Dist = ranged(0.0005, 0.005)  # thickness of the frame tube
    spread_m: Dist = ranged(-0.01, 0.01)  # each lens centre outward from its eye
    drop_m: Dist = ranged(-0.01, 0.02)  # lens centres below the eyes
    frame_value: Dist = ranged(0, 1)  # frame brightness (black .. light)
    frame_saturation: Dist = ranged(0, 1)
    frame_hue: Dist = ranged(0, 1)
    object_probability: float = ranged(0, 1)  # share of faces with an everyday object in front (assets/objects.npz)
    object: Dist  # phone | coffee_cup | plastic_cup | comb | marker | headphones | baby_bottle
    object_anchor: Dist  # mouth | chin | left_cheek | right_cheek | left_eye | right_eye | nose
    object_offset_m: Dist = ranged(0.0, 0.3)  # from the face toward the camera
    object_scale: Dist = ranged(0.5, 2)  # on the object's real size
    lens_reflectance: Dist = ranged(0, 0.2)  # clear lenses: reflectance of each face at normal incidence
    object_hold_probability: float = ranged(0, 1)  # share of objects held as people hold them (occluders.HOLDS)


@dataclass(frozen=True)
class SkinDetailConfig:
    mottling: Dist = ranged(0, 0.5)  # +- albedo variation in blotches ~1-2 cm across (Cycles)
    redness: Dist = ranged(0, 1)  # patchy redness (cheeks, nose, blood under thin skin)
    freckles: Dist = ranged(0, 1)  # 0 none .. 1 densely freckled
    roughness_variation: Dist = ranged(0, 0.5)  # +- roughness over the face: oily and dry areas


@dataclass(frozen=True)
class HandsConfig:
    hand_probability: float = ranged(0, 1)  # share of faces with a hand held up to them (Cycles and raster)
    left_probability: float = ranged(0, 1)  # share of those hands that are the subject's left
    pose: Dist  # open | relaxed | cupped | fist | point
    anchor: Dist  # mouth | chin | left_cheek | right_cheek | left_eye | right_eye | nose
    offset_m: Dist = ranged(0.0, 0.3)  # gap from the anchor to the hand's face side
    slide_m: Dist = ranged(-0.1, 0.1)  # palm centre sideways and up from the anchor (two draws)
    roll_deg: Dist = ranged(-180, 180)  # 0 fingers up .. 90 across the face
    turn_deg: Dist = ranged(-90, 90)  # palm turned about the fingers
    tilt_deg: Dist = ranged(-90, 90)  # fingertips leaned toward the camera
    scale: Dist = ranged(0.5, 1.5)  # on an adult hand
    object_grip_probability: float = ranged(0, 1)  # share of held objects a hand grips (occluders.GRIPS)


@dataclass(frozen=True)
class PhotoConfig:
    metering: Dist = ranged(0, 1)  # share of the face-metered exposure change applied; 0 off
    sharpen: Dist = ranged(0, 3)  # unsharp-mask amount (1 = the detail added once more); 0 off
    sharpen_radius_px: Dist = ranged(0.3, 5)  # its blur radius at 256 px, scaled with the image size
    noise: Dist = ranged(0, 0.1)  # sensor noise left after the camera's own denoising: std, share of full scale
    jpeg_probability: float = ranged(0, 1)  # share of pictures saved as JPEG (compression artefacts)
    jpeg_quality: Dist = ranged(10, 100)  # that JPEG's quality (rounded down)


@dataclass(frozen=True)
class BystanderConfig:
    bystander_probability: float = ranged(0, 1)  # share of scenes with a second person behind the subject (Cycles)
    behind_m: Dist = ranged(0.2, 20)  # its face this much farther from the camera than the subject's
    across: Dist = ranged(0, 1.5)  # |image x| of its face, a share of the half width at its distance (either side)
    up_m: Dist = ranged(-1, 1)  # its face above (+) or below the subject's
    yaw_deg: Dist = ranged(-180, 180)  # its head turned from facing the camera


@dataclass(frozen=True)
class SceneConfig:
    identity: IdentityConfig
    expression: ExpressionConfig
    gaze: GazeConfig
    head_pose: HeadPoseConfig
    camera: CameraConfig
    lighting: LightingConfig
    skin: SkinConfig
    eyes: EyesConfig
    hair: HairConfig
    background: BackgroundConfig
    clothing: ClothingConfig
    environment: EnvironmentConfig
    strands: StrandsConfig
    occluders: OccludersConfig
    skin_detail: SkinDetailConfig
    hands: HandsConfig
    photo: PhotoConfig
    bystander: BystanderConfig


_PROBABILITY_FIELDS = {"neutral_probability", "blink_probability", "wink_probability", "smile_probability",
                       "jaw_open_probability", "hard_side_light_probability", "scalp_hair_probability",
                       "beard_probability", "occluder_probability", "hdri_probability",
                       "background_visible_probability", "defocus_probability", "extra_lights_probability",
                       "key_light_front_probability", "object_hold_probability",
                       "strand_probability", "glasses_probability", "sunglasses_probability", "object_probability",
                       "hand_probability", "left_probability", "object_grip_probability", "jpeg_probability",
                       "bystander_probability"}
# Equirectangular HDRIs shipped in the bpy wheel (bpy/5.0/datafiles/studiolights/world/*.exr: Poly Haven
# maps, CC0, licence.txt beside them), 1024x512. The cycles backend finds them there.
HDRI_NAMES = ("city", "courtyard", "forest", "interior", "night", "studio", "sunrise", "sunset")
HDRI_SUFFIXES = (".exr", ".hdr")


# Distributions over names rather than numbers, and the names each accepts (the backends know
# these and no others).
CATEGORIES = {
    "LightingConfig.environment": ("sky", "gradient", "uniform"),
    "ClothingConfig.neckline": NECKLINES,
    "EyesConfig.iris_color": ("brown", "hazel", "green", "blue", "grey"),
    "BackgroundConfig.kind": ("solid", "gradient", "noise", "image"),
    "EnvironmentConfig.hdri": (*HDRI_NAMES, "folder"),
    "StrandsConfig.style": tuple(STYLE_LENGTH_M),
    "StrandsConfig.beard_style": BEARD_STYLES[1:],
    "OccludersConfig.object": OBJECT_NAMES,
    "OccludersConfig.object_anchor": ANCHORS,
    "HandsConfig.pose": HAND_POSES,
    "HandsConfig.anchor": ANCHORS,
}


def _key(where: str, name: str) -> str:
    """``file.yaml: section`` + ``key`` -> ``file.yaml: section.key`` (``where`` may end in ':')."""
    return f"{where} {name}" if where.endswith(":") else f"{where}.{name}"


def _build(cls, data: Any, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    names = list(fields)
    unknown = set(data) - set(names)
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise ConfigError(f"{_key(where, key)}: unknown key (known: {', '.join(names)})")
    missing = [n for n in names if n not in data]
    if missing:
        raise ConfigError(f"{_key(where, missing[0])}: missing")
    kwargs = {}
    for name in names:
        kw, hint, value, valid = _key(where, name), hints[name], data[name], field_range(fields[name])
        if hint is Dist:
            qual = f"{cls.__name__}.{name}"
            kwargs[name] = parse_dist(value, kw, categorical=qual in CATEGORIES, valid=valid)
            if qual in CATEGORIES:
                bad = [v for v in kwargs[name].params if v not in CATEGORIES[qual]]
                if bad:
                    raise ConfigError(f"{kw}: unknown name {bad[0]!r} (known: {', '.join(CATEGORIES[qual])})")
        elif dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, kw)
        elif hint is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{kw}: expected true or false, got {value!r}")
            kwargs[name] = value
        elif hint is float:
            x = finite(value)
            if x is None:
                raise ConfigError(f"{kw}: expected a finite number, got {value!r}")
            if name in _PROBABILITY_FIELDS and not 0.0 <= x <= 1.0:
                raise ConfigError(f"{kw}: a probability must be in [0, 1], got {value}")
            if valid is not None and x not in valid:
                raise ConfigError(f"{kw}: must be in {valid}, got {value}")
            if name not in _PROBABILITY_FIELDS and valid is None and x <= 0:
                raise ConfigError(f"{kw}: must be > 0, got {value}")
            kwargs[name] = x
        elif hint is str:
            if not isinstance(value, str):
                raise ConfigError(f"{kw}: expected a string, got {value!r}")
            kwargs[name] = value
        else:  # pragma: no cover - a field type this loader does not know is a bug
            raise TypeError(f"unsupported config field type {hint} for {kw}")
    return cls(**kwargs)


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and not _is_dist_mapping(value):
            out[key] = _merge(base[key], value)
        else:
            out[key] = value
    return out


def _is_dist_mapping(value: dict) -> bool:
    return bool(set(value) & {"uniform", "normal", "beta", "choice"})


def _read_yaml(path: Path) -> Any:
    return read_yaml(path, lambda where, message: ConfigError(f"{path}: {where}: {message}" if where
                                                              else f"{path}: {message}"))


def default_config_dict() -> dict:
    text = resources.files("facegen.generator").joinpath("default_scene.yaml").read_text()
    return yaml.safe_load(text)


def load_scene_config(path: str | Path | None = None) -> SceneConfig:
    """The default scene config, with the keys of the YAML file ``path`` (if given) overriding it."""
    data = default_config_dict()
    where = "default_scene.yaml:"
    if path is not None:
        path = Path(path)
        user = _read_yaml(path)
        if user is None:
            user = {}
        if not isinstance(user, dict):
            raise ConfigError(f"{path}: expected a mapping of sections at the top level")
        unknown = set(user) - set(data)
        if unknown:
            raise ConfigError(f"{path}: {sorted(map(str, unknown))[0]}: unknown section (known: {', '.join(data)})")
        data = _merge(data, user)
        where = f"{path}:"
    cfg = _build(SceneConfig, data, where)
    _check_camera_distance(cfg.camera, _key(where, "camera.head_fill"))
    _check_folder(cfg.environment.hdri, "folder", cfg.environment.hdri_folder, HDRI_SUFFIXES,
                  _key(where, "environment.hdri_folder"), "HDRI maps")
    _check_folder(cfg.background.kind, "image", cfg.background.image_folder, (".jpg", ".jpeg", ".png"),
                  _key(where, "background.image_folder"), "pictures")
    return cfg


def _check_folder(dist: Dist, name: str, folder: str, suffixes: tuple[str, ...], key: str, what: str) -> None:
    """``ConfigError`` when categorical ``dist`` can draw ``name`` but ``folder`` holds no such files."""
    if name not in dist.params or not (dist.kind == "constant" or (dist.p or [1])[dist.params.index(name)] > 0):
        return
    try:
        path = Path(folder).expanduser() if folder else None
    except RuntimeError:  # ~name of an unknown user
        path = None
    if path is None or not path.is_dir():
        raise ConfigError(f"{key}: {name!r} needs a folder of {what}, got {folder!r}")
    try:
        found = any(p.suffix.lower() in suffixes for p in path.iterdir())
    except OSError as exc:
        raise ConfigError(f"{key}: cannot list {path} ({exc.strerror})") from None
    if not found:
        raise ConfigError(f"{key}: no {'/'.join(suffixes)} files in {path}")


def _check_camera_distance(cam: CameraConfig, key: str) -> None:
    """``ConfigError`` unless every draw puts the camera ``CAMERA_DISTANCE_M`` from the face:
    not inside the head, not so far that the head is a few pixels (samplers.sample_camera)."""
    from facegen.generator.samplers import NOMINAL_HEAD_HEIGHT_M

    (f_lo, f_hi), (h_lo, h_hi) = cam.focal_length_mm.bounds(), cam.head_fill.bounds()
    near = NOMINAL_HEAD_HEIGHT_M * f_lo / (cam.sensor_width_mm * h_hi)
    far = NOMINAL_HEAD_HEIGHT_M * f_hi / (cam.sensor_width_mm * h_lo)
    lo, hi = CAMERA_DISTANCE_M
    if near < lo or far > hi:
        raise ConfigError(f"{key}: with focal_length_mm {f_lo:g}..{f_hi:g} and sensor_width_mm "
                          f"{cam.sensor_width_mm:g} the camera stands {near:.3g}..{far:.3g} m from the face; "
                          f"it must stay within {lo:g}..{hi:g} m")


def config_to_dict(cfg: SceneConfig) -> dict:
    """The config as plain data (for shard attributes and provenance)."""
    return dataclasses.asdict(cfg)
