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


@dataclass(frozen=True)
class IdentityConfig:
    age_years: Dist  # age in years (the head model is fitted on 16..85)
    gender: Dist  # 0 female .. 1 male
    weight: Dist  # 0 thin .. 1 heavy
    muscle: Dist  # 0 .. 1
    height: Dist  # 0 .. 1 (changes head and neck proportions a little)
    proportions: Dist  # 0 ideal .. 1 uncommon proportions
    ancestry_concentration: float  # Dirichlet concentration of (african, asian, caucasian) shares
    residual_scale: Dist  # local face-shape variation beyond the attributes, x its fitted spread


@dataclass(frozen=True)
class ExpressionConfig:
    neutral_probability: float  # share of faces with no face unit active at all
    blink_probability: float  # share of faces with both eyes (partly) closed
    wink_probability: float  # share of faces with one eye closed
    smile_probability: float  # share of faces smiling (mouthSmile, cheekSquint)
    jaw_open_probability: float  # share of faces with the jaw open
    extra_units: Dist  # number of other face units switched on at random
    intensity: Dist  # activation of each switched-on unit
    asymmetry: Dist  # left/right difference of paired units, as a fraction of the activation


@dataclass(frozen=True)
class GazeConfig:
    yaw_deg: Dist  # eyes relative to the head; > 0 toward the subject's left
    pitch_deg: Dist  # > 0 up


@dataclass(frozen=True)
class HeadPoseConfig:
    yaw_deg: Dist  # head relative to the shoulders; +-90 is a profile
    pitch_deg: Dist  # > 0 chin up
    roll_deg: Dist  # > 0 toward the subject's left shoulder


@dataclass(frozen=True)
class CameraConfig:
    sensor_width_mm: float  # full-frame equivalent sensor width
    focal_length_mm: Dist  # lens focal length (sets perspective strength)
    head_fill: Dist  # image height fraction covered by a nominal 0.25 m head; sets the distance
    azimuth_deg: Dist  # camera around the shoulders' vertical axis; 0 in front, > 0 toward +x
    elevation_deg: Dist  # camera above (> 0) or below the face
    roll_deg: Dist  # camera roll about its viewing axis
    target_jitter: Dist  # look-at offset from the face centre, fraction of the nominal head height
    principal_point_jitter: Dist  # principal point offset from the image centre, fraction of width


@dataclass(frozen=True)
class LightingConfig:
    environment: Dist  # world lighting: sky | gradient | uniform
    environment_strength: Dist  # world brightness multiplier
    environment_rotation_deg: Dist  # world rotation about the vertical axis
    light_count: Dist  # number of lights besides the world (rounded)
    light_power_w: Dist  # power of each light
    light_temperature_k: Dist  # colour temperature of each light
    light_azimuth_deg: Dist  # direction the light comes from, around the face; 0 is the camera side
    light_elevation_deg: Dist  # height of the light above the face's horizon
    light_distance_m: Dist  # distance from the face centre
    light_size_m: Dist  # radius of the (area/spot) light; small is hard light
    hard_side_light_probability: float  # share of scenes with one small, strong light from the side


@dataclass(frozen=True)
class SkinConfig:
    tone_from_ancestry: bool  # centre the tone on the identity's ancestry shares (else tone only)
    tone: Dist  # 0 very light .. 1 very dark (added to the ancestry centre when that is on)
    roughness: Dist  # specular roughness
    specular: Dist  # specular intensity
    subsurface_scale: Dist  # multiplier on the subsurface scattering radius
    lip_redness: Dist  # 0 .. 1
    cheek_tint: Dist  # 0 .. 1 redness of the cheeks
    eyelid_tint: Dist  # 0 .. 1 darkening of the eyelids
    bump_strength: Dist  # pores and fine wrinkles


@dataclass(frozen=True)
class EyesConfig:
    iris_color: Dist  # brown | hazel | green | blue | grey
    iris_brightness: Dist  # 0 dark .. 1 light iris
    pupil_size: Dist  # pupil radius as a fraction of the iris radius
    sclera_redness: Dist  # 0 .. 1
    cornea_roughness: Dist  # glossiness of the cornea highlight


@dataclass(frozen=True)
class HairConfig:
    scalp_hair_probability: float  # share of heads with scalp hair (others are shaved/bald)
    color_melanin: Dist  # hair melanin, 0 blond/white .. 1 black
    color_redness: Dist  # pheomelanin share (red hair)
    grey: Dist  # share of grey hairs
    length_m: Dist  # scalp hair length
    beard_probability: float  # share of faces with stubble or beard (only if gender > 0.5)
    eyebrow_density: Dist  # 0 sparse .. 1 dense


@dataclass(frozen=True)
class BackgroundConfig:
    kind: Dist  # solid | gradient | noise | image (image only with image_folder)
    hue: Dist  # 0..1
    saturation: Dist  # 0..1
    value: Dist  # 0..1 brightness
    noise_scale: Dist  # feature size of procedural backgrounds
    image_folder: str  # folder of background pictures ("" for none)
    occluder_probability: float  # share of images with a random object in front of the face


@dataclass(frozen=True)
class ClothingConfig:
    hue: Dist  # 0..1
    saturation: Dist  # 0..1
    value: Dist  # 0..1 brightness


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


_PROBABILITY_FIELDS = {"neutral_probability", "blink_probability", "wink_probability", "smile_probability",
                       "jaw_open_probability", "hard_side_light_probability", "scalp_hair_probability",
                       "beard_probability", "occluder_probability"}


# Distributions over names rather than numbers, and the names each accepts (the backends know
# these and no others).
CATEGORIES = {
    "LightingConfig.environment": ("sky", "gradient", "uniform"),
    "EyesConfig.iris_color": ("brown", "hazel", "green", "blue", "grey"),
    "BackgroundConfig.kind": ("solid", "gradient", "noise", "image"),
}


def _key(where: str, name: str) -> str:
    """``file.yaml: section`` + ``key`` -> ``file.yaml: section.key`` (``where`` may end in ':')."""
    return f"{where} {name}" if where.endswith(":") else f"{where}.{name}"


def _build(cls, data: Any, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = set(data) - set(names)
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise ConfigError(f"{_key(where, key)}: unknown key (known: {', '.join(names)})")
    missing = [n for n in names if n not in data]
    if missing:
        raise ConfigError(f"{_key(where, missing[0])}: missing")
    kwargs = {}
    for name in names:
        kw, hint, value = _key(where, name), hints[name], data[name]
        if hint is Dist:
            qual = f"{cls.__name__}.{name}"
            kwargs[name] = parse_dist(value, kw, categorical=qual in CATEGORIES)
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
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{kw}: expected a number, got {value!r}")
            if name in _PROBABILITY_FIELDS and not 0.0 <= value <= 1.0:
                raise ConfigError(f"{kw}: a probability must be in [0, 1], got {value}")
            if name not in _PROBABILITY_FIELDS and value <= 0:
                raise ConfigError(f"{kw}: must be > 0, got {value}")
            kwargs[name] = float(value)
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
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{line}: YAML syntax error: {problem}") from None


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
    bg = cfg.background
    if "image" in bg.kind.params and (bg.kind.kind == "constant" or (bg.kind.p or [1])[bg.kind.params.index("image")] > 0):
        folder = Path(bg.image_folder).expanduser() if bg.image_folder else None
        if folder is None or not folder.is_dir():
            raise ConfigError(f"{_key(where, 'background.image_folder')}: background kind 'image' needs a folder of "
                            f"pictures, got {bg.image_folder!r}")
        if not any(p.suffix.lower() in (".jpg", ".jpeg", ".png") for p in folder.iterdir()):
            raise ConfigError(f"{_key(where, 'background.image_folder')}: no .jpg/.png pictures in {folder}")
    return cfg


def config_to_dict(cfg: SceneConfig) -> dict:
    """The config as plain data (for shard attributes and provenance)."""
    return dataclasses.asdict(cfg)
