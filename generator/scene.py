"""SceneParams: the complete, plain-data description of one sample.

A SceneParams plus the head model determines the mesh, the landmarks and (up to renderer
noise) the pixels. Everything is a frozen dataclass of floats, strings and tuples, so a scene
round-trips through JSON (``to_dict`` / ``from_dict``) and can be stored beside each sample.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

from facegen.generator.head_model import Expression, Gaze, HeadPose


@dataclass(frozen=True)
class IdentityParams:
    """Who the person is: named attributes plus standard-normal draws for the rest."""

    attributes: tuple[tuple[str, float], ...]  # ((name, value), ...): age (years), gender, weight, ...
    residual: tuple[float, ...]  # (C,) standard-normal draws, scaled by the model's residual spread
    residual_scale: float  # multiplier on those draws (1.0 = the spread of anny's local changes)


@dataclass(frozen=True)
class CameraParams:
    """A pinhole camera aimed at the face centre (see generator/camera.py)."""

    focal_length_mm: float  # lens focal length
    sensor_width_mm: float  # sensor width; fx = focal / sensor_width * image width (pixels)
    distance_m: float  # from the look-at point
    azimuth_deg: float  # around the vertical axis; 0 in front of the shoulders, > 0 toward +x
    elevation_deg: float  # > 0 above the face
    roll_deg: float  # about the viewing axis
    target_offset_m: tuple[float, float, float]  # look-at point minus the face centre, model axes
    principal_point_offset: tuple[float, float]  # (cx, cy) minus image centre, fraction of width


@dataclass(frozen=True)
class LightParams:
    power_w: float  # radiant power
    temperature_k: float  # colour temperature
    azimuth_deg: float  # direction it comes from, around the face; 0 is in front (-y)
    elevation_deg: float  # above the face's horizon
    distance_m: float  # from the face centre
    size_m: float  # radius; small gives hard shadows


@dataclass(frozen=True)
class LightingParams:
    environment: str  # sky | gradient | uniform
    environment_strength: float  # world brightness multiplier
    environment_rotation_deg: float  # about the vertical axis
    lights: tuple[LightParams, ...]  # 1..3 lights


@dataclass(frozen=True)
class SkinParams:
    tone: float  # 0 very light .. 1 very dark
    roughness: float
    specular: float
    subsurface_scale: float
    lip_redness: float
    cheek_tint: float
    eyelid_tint: float
    bump_strength: float


@dataclass(frozen=True)
class EyeParams:
    iris_color: str  # brown | hazel | green | blue | grey
    iris_brightness: float
    pupil_size: float  # fraction of the iris radius
    sclera_redness: float
    cornea_roughness: float


@dataclass(frozen=True)
class HairParams:
    scalp_hair: bool  # False: shaved or bald
    melanin: float  # 0 blond/white .. 1 black
    redness: float  # pheomelanin share
    grey: float  # share of grey hairs
    length_m: float
    beard: bool
    eyebrow_density: float


@dataclass(frozen=True)
class ClothingParams:
    hsv: tuple[float, float, float]  # colour of the top covering the shoulders
    # The top's neckline (appearance.NECKLINES); scenes stored before necklines wore bare shoulders.
    neckline: str = "bare_shoulders"
    neckline_depth_m: float = 0.0  # how far a scoop or V neckline dips below the neck at the front


@dataclass(frozen=True)
class BackgroundParams:
    kind: str  # solid | gradient | noise | image
    hsv: tuple[float, float, float]  # base colour
    hsv2: tuple[float, float, float]  # second colour (gradient, noise)
    noise_scale: float
    image_folder: str  # folder of background pictures (kind == image), from the config
    image_pick: float  # 0..1: which picture of the sorted image folder (kind == image)
    occluder: bool  # an object in front of the face
    occluder_xy: tuple[float, float]  # its centre, fraction of the image (0..1, 0..1)
    occluder_size: float  # its radius, fraction of the image width
    occluder_hsv: tuple[float, float, float]


@dataclass(frozen=True)
class EnvironmentParams:
    hdri: str  # a bundled map name (config.HDRI_NAMES), "folder", or "" (no HDRI: the procedural world)
    folder: str  # hdri_folder of the config (hdri == "folder")
    pick: float  # 0..1: which map of the sorted folder (hdri == "folder")
    rotation_deg: float  # about the vertical axis
    exposure_ev: float  # stops around the map's normalised level
    white_balance_k: float  # camera white balance, kelvin (6500 neutral)
    background_visible: bool  # camera rays see the map (else the background section's backdrop)
    defocus: bool  # depth of field focused on the face
    f_stop: float  # its aperture
    extra_lights: bool  # the lighting section's disk lights shine too
    # The map's main light in front of the face: turned (instead of by rotation_deg) so that its
    # main light stands key_light_azimuth_deg about the vertical axis from the camera, seen from
    # the face (0: from behind the camera; +-90: from the side). False for scenes stored before.
    key_light_front: bool = False
    key_light_azimuth_deg: float = 0.0


NO_ENVIRONMENT = EnvironmentParams("", "", 0.0, 0.0, 0.0, 6500.0, False, False, 8.0, True)


@dataclass(frozen=True)
class StrandParams:
    """Strand hair (Cycles; generator/hair.py). The colour is the ``hair`` section's."""

    style: str  # "" (no strands: the painted hair of earlier versions), bald, or a style of hair.STYLE_LENGTH_M
    length_m: float  # scalp hair, root to tip
    density_per_cm2: float
    volume_m: float
    part_x: float  # parting, m sideways in the head frame
    comb_back: float
    clumping: float
    curl_radius_m: float
    frizz: float
    hairline_recession_m: float
    brow_length_m: float
    lash_length_m: float
    beard_style: str  # none | stubble | moustache | goatee | short | full
    beard_length_m: float
    beard_density: float
    seed: int  # of the strand roots and the node groups' draws


NO_STRANDS = StrandParams("", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.01, 0.0, 0.0, 0.0, 0.0, "none", 0.0, 0.0, 0)


@dataclass(frozen=True)
class OccluderParams:
    """Things in front of the face (generator/occluders.py)."""

    glasses: str  # none | clear | sunglasses
    lens_width_m: float
    lens_height_m: float
    roundness: float
    frame_radius_m: float
    spread_m: float
    drop_m: float
    frame_hsv: tuple[float, float, float]
    object: str  # "none" or an everyday object of assets/objects.npz (occluders.OBJECT_NAMES)
    object_anchor: str  # the part of the face it is held in front of (occluders.ANCHORS)
    object_offset_m: float  # from the face toward the camera
    object_rotation_deg: tuple[float, float, float]  # yaw, pitch, roll (as a head pose) in the head's frame
    object_scale: float
    # Clear lenses' reflectance per face at normal incidence: 0.04 uncoated glass (IOR 1.5; scenes
    # stored before this field had it), ~0.005 with an anti-reflective coating.
    lens_reflectance: float = 0.04
    # The object's centre moved from its anchor in the head's frame (x toward the subject's left, y
    # toward the back of the head, z up), metres: a hold (occluders.HOLDS). Scenes stored before
    # this field had none: the object `object_offset_m` toward the camera alone.
    object_shift_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # The object is placed by a hold (occluders.HOLDS: how people hold it), not anywhere in front of
    # the face; only such an object is gripped by a hand (HandParams). Scenes stored before this
    # field: False.
    object_held: bool = False


NO_OCCLUDERS = OccluderParams("none", 0.05, 0.035, 0.5, 0.002, 0.0, 0.0, (0.0, 0.0, 0.1), "none", "mouth", 0.05,
                              (0.0, 0.0, 0.0), 1.0)


@dataclass(frozen=True)
class SkinDetailParams:
    """Albedo and roughness that vary over the skin (Cycles: procedural maps in the head's UV space)."""

    mottling: float
    redness: float
    freckles: float
    roughness_variation: float
    offset: tuple[float, float, float]  # where in the procedural patterns this person's skin lies


NO_SKIN_DETAIL = SkinDetailParams(0.0, 0.0, 0.0, 0.0, (0.0, 0.0, 0.0))


@dataclass(frozen=True)
class HandParams:
    """A hand and forearm held up to the face (generator/occluders.py, assets/hands.npz)."""

    hand: str  # none | left | right (the subject's)
    pose: str  # occluders.HAND_POSES
    anchor: str  # the part of the face the palm is in front of (occluders.ANCHORS)
    offset_m: float  # gap from the anchor to the hand's face side, along the head's facing direction
    slide_m: tuple[float, float]  # palm centre moved sideways (toward the subject's left) and up, head frame
    roll_deg: float  # fingers from pointing up (0) toward the face's other side (90: across the face)
    turn_deg: float  # the palm turned about the fingers' direction (0: facing the face)
    tilt_deg: float  # the fingertips leaned toward the camera (+) or the face (-)
    scale: float  # on the adult hand of assets/hands.npz


NO_HANDS = HandParams("none", "open", "mouth", 0.05, (0.0, 0.0), 0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class PhotoParams:
    """What the camera does to the picture (generator/photo.py; Cycles)."""

    metering: float  # share of the face-metered exposure change applied (0: the scene's own light)
    sharpen: float  # unsharp-mask amount; 0 off
    sharpen_radius_px: float  # at 256 px
    noise: float  # sensor noise std, share of full scale
    jpeg_quality: int  # 0: not saved as JPEG
    seed: int  # of the noise


NO_PHOTO = PhotoParams(0.0, 0.0, 1.0, 0.0, 0, 0)


@dataclass(frozen=True)
class BystanderParams:
    """A second person behind the subject (Cycles; ``bystander`` section), out of focus when the
    scene is defocused. Not labelled: the labels are the subject's, and its pixels are background."""

    present: bool
    identity: IdentityParams
    expression: Expression
    head_pose: HeadPose  # its own turn, on top of facing the camera
    skin: SkinParams
    hair: HairParams
    clothing: ClothingParams
    behind_m: float  # its face this much farther from the camera than the subject's
    across: float  # its face's image x, a share of the half width at its distance (- left, + right)
    up_m: float  # its face above (+) or below the subject's, metres


NO_BYSTANDER = BystanderParams(False, IdentityParams((), (), 0.0), Expression(), HeadPose(0.0, 0.0, 0.0),
                               SkinParams(0.5, 0.5, 0.5, 1.0, 0.5, 0.0, 0.0, 0.3),
                               HairParams(False, 0.5, 0.0, 0.0, 0.0, False, 0.5), ClothingParams((0.0, 0.0, 0.5)),
                               1.0, 0.6, 0.0)


@dataclass(frozen=True)
class SceneParams:
    seed: int  # dataset seed
    index: int  # sample index within the dataset
    identity: IdentityParams
    expression: Expression
    gaze: Gaze
    head_pose: HeadPose
    camera: CameraParams
    lighting: LightingParams
    skin: SkinParams
    eyes: EyeParams
    hair: HairParams
    background: BackgroundParams
    clothing: ClothingParams
    environment: EnvironmentParams = NO_ENVIRONMENT  # scenes stored before this section existed have none
    strands: StrandParams = NO_STRANDS  # as environment
    occluders: OccluderParams = NO_OCCLUDERS  # as environment
    skin_detail: SkinDetailParams = NO_SKIN_DETAIL  # as environment
    hands: HandParams = NO_HANDS  # as environment
    photo: PhotoParams = NO_PHOTO  # as environment
    bystander: BystanderParams = NO_BYSTANDER  # as environment

    def to_dict(self) -> dict:
        """Plain JSON-able data (tuples become lists)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SceneParams":
        return _from_dict(cls, data)


def _from_dict(cls, data):
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data and f.default is not dataclasses.MISSING:  # a field added later
            continue
        kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(hint, value):
    if dataclasses.is_dataclass(hint):
        return _from_dict(hint, value)
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value))
    if hint is float:
        return float(value)
    if hint is int:
        return int(value)
    return value
