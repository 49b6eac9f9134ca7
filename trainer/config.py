"""``train.yaml``: frozen dataclasses (one comment per field), read with ``yaml.safe_load``.

A bad file raises ``ConfigError`` whose message is one line naming the file and the key; the CLI
prints it and exits 2. Relative paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from facegen.errors import UserError
from facegen.user_input import (control_characters, field_range, finite, output_folder_problem, printable, ranged,
                                read_yaml)

MODES = ("synthetic", "synthetic+real", "daln", "discriminator", "real")
SCHEDULES = ("constant", "cosine")
LOSSES = ("mse", "awing")
HIDDEN = ("supervise", "mask")


class ConfigError(UserError, ValueError):
    """Bad train.yaml: the message names the file and the key."""

    def __init__(self, message: str):
        super().__init__(printable(message))  # a key may hold a newline: escaped, one line


class TrainerError(UserError):
    """A train, evaluate or predict run refused for its input (a checkpoint of another run or
    model, a dataset without what the run needs): the message names the file."""


@dataclass(frozen=True)
class ModelSection:
    stacks: int = ranged(1, 8, 2)  # stacked hourglasses (FAN: 4)
    channels: int = ranged(2, 1024, 128)  # channels inside the hourglasses (FAN: 256)
    depth: int = ranged(1, 6, 4)  # hourglass levels; input_size must be divisible by 4 * 2**depth
    input_size: int = ranged(16, 1024, 256)  # square input crop side in pixels; heatmaps are input_size / 4


@dataclass(frozen=True)
class DataSection:
    synthetic: str | None = None  # facegen shard folder (source domain); needed by every mode but "real"
    labels: str | None = None  # label set of the shards (default: the dataset's render-time one)
    real: str | None = None  # real face folder (*.jpg + 300-W .pts); labelled for synthetic+real / real, images only used by daln / discriminator
    sigma: float = ranged(0.1, 20, 1.5)  # Gaussian heatmap sigma in heatmap pixels
    crop_margin: float = ranged(1, 4, 1.25)  # square crop side = margin * longer side of the landmark bounding box
    augment: bool = True  # training: the augment section's geometric and photometric changes (false: plain crops)
    hidden: str = "supervise"  # hidden points (self-occluded, under hair or an object): supervise | mask (left out)
    cache: bool = True  # hold every face in memory as a loose crop (~110 kB each at 128 px); false: stream from disk
    room: float = ranged(1, 3, 1.5)  # loose crop side / model crop side: room for rotation, scale and shift


@dataclass(frozen=True)
class AugmentSection:
    """Training augmentation strengths (``trainer/augment.py``), used when data.augment is true; each is
    drawn per sample. Defaults: the published synthetic-face recipes at 300-W crop sizes."""

    rotation: float = ranged(0, 180, 25.0)  # degrees, uniform in +-rotation
    scale: float = ranged(0, 1, 0.15)  # crop side times exp(uniform(+-log(1 + scale)))
    translate: float = ranged(0, 0.5, 0.06)  # centre shift, uniform in +-translate x crop side per axis
    perspective: float = ranged(0, 0.25, 0.08)  # corner displacement, +-perspective x crop side (homography)
    flip: float = ranged(0, 1, 0.5)  # probability of a mirror image (points through the spec's flip pairs)
    brightness: float = ranged(0, 1, 0.25)  # additive offset, uniform in +-brightness (image in [0, 1])
    contrast: float = ranged(0, 1, 0.35)  # contrast factor in 1 +- contrast about the image mean
    saturation: float = ranged(0, 1, 0.4)  # saturation factor in 1 +- saturation
    gain: float = ranged(0, 1, 0.12)  # per-channel gain in 1 +- gain (colour cast, white balance)
    greyscale: float = ranged(0, 1, 0.1)  # probability of a greyscale image
    blur: float = ranged(0, 1, 0.25)  # probability of a Gaussian blur
    blur_sigma: float = ranged(0, 10, 1.8)  # largest blur sigma, input pixels (smallest 0.4)
    noise: float = ranged(0, 1, 0.3)  # probability of Gaussian noise
    noise_sd: float = ranged(0, 0.5, 0.05)  # largest noise standard deviation (smallest 0.005; image in [0, 1])
    jpeg: float = ranged(0, 1, 0.3)  # probability of a JPEG round trip
    jpeg_quality: int = ranged(1, 90, 15)  # lowest JPEG quality (highest 90)
    occlusion: float = ranged(0, 1, 0.25)  # probability of one occluding patch (flat colour or noise)
    occlusion_area: float = ranged(0, 0.8, 0.15)  # largest patch area, fraction of the crop (smallest 0.02)

    def off(self) -> "AugmentSection":
        """Every strength zero: batches come out as the evaluation crop."""
        return AugmentSection(**{f.name: 0 for f in dataclasses.fields(self) if f.name != "jpeg_quality"})


@dataclass(frozen=True)
class DalnSection:
    weight: float = ranged(0, 100, 0.1)  # weight of the DALN transfer loss (-NWD); 0.1: EXPERIMENT.md "DALN sweep"
    lo: float = ranged(0, 10, 0.0)  # GRL coefficient at step 0
    hi: float = ranged(0, 10, 1.0)  # GRL coefficient it warms up to
    alpha: float = ranged(0, 1000, 10.0)  # steepness of the warm-start schedule
    temperature: float = ranged(0.001, 100, 0.1)  # spatial softmax temperature T: P = softmax(heatmap / T) over pixels


@dataclass(frozen=True)
class DiscriminatorSection:
    """Mode discriminator: a domain classifier on the last stack's features through a GRL (DANN);
    the GRL coefficient follows daln.lo / daln.hi / daln.alpha."""

    weight: float = ranged(0, 100, 0.1)  # weight of the domain classification loss next to the heatmap loss
    channels: int = ranged(1, 1024, 64)  # width of the classifier's two strided convolutions


@dataclass(frozen=True)
class LabelTransferSection:
    channels: int = ranged(1, 512, 32)  # U-Net width (c, 2c, 4c)
    weight: float = ranged(0, 100, 1.0)  # weight of the real 68-point heatmap loss through the U-Net
    warmup_steps: int = ranged(0, 10 ** 9, 0)  # first steps: the U-Net learns on detached dense heatmaps, the model gets no real gradient


@dataclass(frozen=True)
class TrainConfig:
    mode: str = "synthetic"  # synthetic | synthetic+real (label transfer) | daln | discriminator (unsupervised DA) | real
    out_dir: str = "runs/train"  # checkpoints (last.pt), log.csv and TensorBoard events
    seed: int = ranged(0, 2 ** 63 - 1, 0)  # seeds the model init, the data order and the splits
    steps: int = ranged(1, 10 ** 9, 1000)  # optimisation steps
    batch_size: int = ranged(1, 4096, 16)  # images per domain per step (per process under DDP)
    lr: float = ranged(0, 1, 2.5e-4, lo_open=True)  # Adam learning rate (FAN: 2.5e-4)
    schedule: str = "cosine"  # learning rate: constant | cosine (decays to 0 at the last step)
    warmup_steps: int = ranged(0, 10 ** 9, 0)  # linear learning rate warm-up from 0
    loss: str = "awing"  # heatmap loss: mse | awing (adaptive wing with the weighted loss map, Wang et al. 2019)
    visibility_weight: float = ranged(0, 100, 0.1)  # weight of the per-point visibility loss (binary cross-entropy)
    weight_decay: float = ranged(0, 1, 0.0)  # Adam weight decay
    log_every: int = ranged(1, 10 ** 9, 10)  # steps between CSV / TensorBoard rows
    checkpoint_every: int = ranged(1, 10 ** 9, 500)  # steps between checkpoints (and one at the end)
    resume: bool = True  # continue from out_dir/last.pt when it exists
    init_from: str | None = None  # a checkpoint whose model weights start this run (fine-tuning, e.g. DALN
    #                               from a synthetic-only model); fresh optimizer, step 0; unused on resume
    device: str = "auto"  # auto (cuda when available) | cpu | cuda
    amp: bool = True  # mixed precision (CUDA only)
    num_workers: int = ranged(0, 64, 0)  # DataLoader worker processes
    model: ModelSection = field(default_factory=ModelSection)  # the hourglass
    data: DataSection = field(default_factory=DataSection)  # datasets
    augment: AugmentSection = field(default_factory=AugmentSection)  # augmentation strengths
    daln: DalnSection = field(default_factory=DalnSection)  # domain adaptation (mode daln; its GRL schedule also discriminator)
    discriminator: DiscriminatorSection = field(default_factory=DiscriminatorSection)  # mode discriminator
    label_transfer: LabelTransferSection = field(default_factory=LabelTransferSection)  # mode synthetic+real

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls, data, file: str, prefix: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: {prefix or 'top level'}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        where = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(f"{file}: {where}: unknown key (known: {', '.join(fields)})")
        default = fields[key].default if fields[key].default is not dataclasses.MISSING else fields[key].default_factory()
        if dataclasses.is_dataclass(default):
            kwargs[key] = _build(type(default), value, file, where + ".")
            continue
        ftype = str(fields[key].type)
        if value is None and "None" in ftype:
            kwargs[key] = None
        elif ftype.startswith("bool"):
            if not isinstance(value, bool):
                raise ConfigError(f"{file}: {where}: expected true or false, got {value!r}")
            kwargs[key] = value
        elif ftype.startswith("int"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{file}: {where}: expected an integer, got {value!r}")
            kwargs[key] = _in_range(value, fields[key], file, where)
        elif ftype.startswith("float"):
            x = finite(value)
            if x is None:
                raise ConfigError(f"{file}: {where}: expected a finite number, got {value!r}")
            kwargs[key] = _in_range(x, fields[key], file, where)
        else:
            if not isinstance(value, str):
                raise ConfigError(f"{file}: {where}: expected a string, got {value!r}")
            char = control_characters(value)
            if char:
                raise ConfigError(f"{file}: {where}: holds the control character {char}")
            kwargs[key] = value
    return cls(**kwargs)


def _in_range(x, f: dataclasses.Field, file: str, where: str):
    valid = field_range(f)
    if valid is not None and x not in valid:
        raise ConfigError(f"{file}: {where}: must be in {valid}, got {x!r}")
    return x


def _check(cfg: TrainConfig, file: str) -> None:
    def bad(key, msg):
        raise ConfigError(f"{file}: {key}: {msg}")

    if cfg.mode not in MODES:
        bad("mode", f"unknown mode {cfg.mode!r} (one of {', '.join(MODES)})")
    for key, value, known in (("schedule", cfg.schedule, SCHEDULES), ("loss", cfg.loss, LOSSES),
                              ("data.hidden", cfg.data.hidden, HIDDEN)):
        if value not in known:
            bad(key, f"unknown value {value!r} (one of {', '.join(known)})")
    if cfg.device not in ("auto", "cpu", "cuda"):
        bad("device", f"expected auto, cpu or cuda (got {cfg.device!r})")
    if cfg.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            bad("device", f"cuda, but torch {torch.__version__} finds no CUDA device (use auto or cpu)")
    m = cfg.model
    if m.input_size % (4 * 2 ** m.depth):
        bad("model.input_size", f"{m.input_size} is not divisible by 4 * 2**depth = {4 * 2 ** m.depth}")
    if cfg.mode != "real" and not cfg.data.synthetic:
        bad("data.synthetic", f"mode {cfg.mode} needs a synthetic shard folder")
    if cfg.mode != "synthetic" and not cfg.data.real:
        bad("data.real", f"mode {cfg.mode} needs a real face folder")
    for key in ("synthetic", "real"):
        path = getattr(cfg.data, key)
        if path and not Path(path).is_dir():
            bad(f"data.{key}", f"folder {path} does not exist")
    problem = output_folder_problem(cfg.out_dir)
    if problem:
        bad("out_dir", problem)


def load_train_config(path: str | Path) -> TrainConfig:
    """Read and check ``train.yaml``; relative paths (out_dir, init_from, data.synthetic, data.real)
    are resolved against its folder, not the working directory."""
    path = Path(path)
    file = str(path)
    data = read_yaml(path, lambda where, message: ConfigError(f"{file}: {where}: {message}" if where
                                                              else f"{file}: {message}"))
    cfg = _build(TrainConfig, data or {}, file, "")
    base = path.resolve().parent

    def rel(p):
        return None if p is None else str((base / p) if not Path(p).is_absolute() else Path(p))

    cfg = dataclasses.replace(cfg, out_dir=rel(cfg.out_dir), init_from=rel(cfg.init_from),
                              data=dataclasses.replace(cfg.data, synthetic=rel(cfg.data.synthetic), real=rel(cfg.data.real)))
    _check(cfg, file)
    return cfg


def config_from_dict(data: dict) -> TrainConfig:
    """Rebuild a config stored in a checkpoint."""
    return _build(TrainConfig, data, "checkpoint", "")
