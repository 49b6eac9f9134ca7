"""Writing one shard: a pure function of (plan, shard index range), made crash-safe.

A shard is rendered into ``<name>.tmp-<pid>``, flushed, fsynced, checksummed and renamed to its
final name in one atomic step, so a killed run never leaves a half shard under a shard name.
The format is ``generator/shard_format.py`` (documented in ``generator/SHARDS.md``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import h5py
import numpy as np

from facegen.generator import shard_format as sf
from facegen.generator.batch_labels import BatchLabeler, SampleInputs

IMAGE_COMPRESSION = "gzip-1"  # smaller and faster to read than lzf here: bench/bench_compression.py, SHARDS.md
DEPTH_COMPRESSION = "gzip-1"  # float16 depth with the shuffle filter


def generator_version() -> str:
    """The installed facegen version (``unknown`` when not installed)."""
    try:
        return metadata.version("facegen")
    except metadata.PackageNotFoundError:
        return "unknown"


def spec_texts(spec_source: str) -> dict[str, str]:
    """``{file name: text}`` of a spec file and every file it includes (the full spec text)."""
    from facegen.landmark_specs.spec_file import load_spec_definition
    d = load_spec_definition(spec_source)
    files = sorted({d.file, *(g.file for g in d.groups)})
    return {Path(f).name: Path(f).read_text(encoding="utf-8") for f in files}


@dataclass(frozen=True)
class DatasetPlan:
    """Everything that determines a dataset's samples (and so its key), plus the layout."""

    out_dir: str  # dataset folder
    seed: int  # dataset seed; sample i is a pure function of (config, seed, i)
    num: int  # number of samples
    shard_size: int  # samples per shard (the last may hold fewer)
    spec_source: str  # the spec file (absolute path) workers resolve
    spec_hash: str  # ResolvedSpec.content_hash (workers check it)
    spec_name: str  # the spec's name: the render-time label set's name
    config_path: str | None  # scene config YAML (None: the default)
    config: dict = field(hash=False)  # config_to_dict of the loaded config
    renderer: str = "cycles"  # backend name (generator/backends)
    renderer_settings: dict = field(default_factory=dict, hash=False)  # keyword arguments of make_renderer
    resolution: int = 256  # image width = height, pixels
    segmentation: bool = True  # store per-pixel class ids
    image_compression: str = IMAGE_COMPRESSION  # "lzf" | "gzip-<level>" | "none"

    def key(self) -> str:
        """Hash of what the samples depend on (not num, shard size, layout or executor)."""
        data = dict(schema=sf.SCHEMA_VERSION, seed=self.seed, spec=self.spec_hash, config=self.config,
                    renderer=self.renderer, settings=self.renderer_settings, resolution=self.resolution,
                    segmentation=self.segmentation)
        return hashlib.sha256(sf.canonical_json(data).encode()).hexdigest()[:16]

    def shards(self) -> list["ShardTask"]:
        """The shard tasks covering samples ``0 .. num-1``."""
        return [ShardTask(self, k, a, min(self.shard_size, self.num - a))
                for k, a in enumerate(range(0, self.num, self.shard_size))]


@dataclass(frozen=True)
class ShardTask:
    """One unit of work: samples ``first_index .. first_index + count - 1`` into one file."""

    plan: DatasetPlan  # the dataset
    shard_index: int  # k: file shard-{k:05d}.h5
    first_index: int  # first sample index
    count: int  # number of samples

    @property
    def file(self) -> str:
        return sf.shard_name(self.shard_index)


@dataclass(frozen=True)
class ShardResult:
    """A finished shard, as the manifest lists it."""

    file: str  # file name in the dataset folder
    shard_index: int  # k
    first_index: int  # first sample index
    count: int  # samples in it
    sha256: str  # hex checksum of the file
    bytes: int  # file size


def compression_kwargs(name: str) -> dict:
    """h5py dataset keyword arguments for ``lzf`` | ``gzip-<level>`` | ``none``."""
    if name == "none":
        return {}
    if name == "lzf":
        return dict(compression="lzf", shuffle=True)
    if name.startswith("gzip-"):
        return dict(compression="gzip", compression_opts=int(name[5:]), shuffle=True)
    raise ValueError(f"unknown compression {name!r} (lzf, gzip-<level>, none)")


class WorkerContext:
    """What a worker builds once and reuses for every shard: model, config, spec, labeler, renderer."""

    def __init__(self, plan: DatasetPlan):
        from facegen.generator.backends import make_renderer
        from facegen.generator.config import load_scene_config
        from facegen.generator.head_model import HeadModel
        from facegen.generator.projection import load_spec
        self.model = HeadModel.load()
        self.cfg = load_scene_config(plan.config_path)
        self.spec = load_spec(plan.spec_source, self.model)
        if self.spec.content_hash != plan.spec_hash:
            raise RuntimeError(f"{plan.spec_source} changed during the run (hash {self.spec.content_hash}, "
                               f"planned {plan.spec_hash})")
        self.spec_texts = spec_texts(plan.spec_source)
        self.labeler = BatchLabeler(self.spec, self.model)
        self.renderer = make_renderer(plan.renderer, **plan.renderer_settings)

    def close(self) -> None:
        self.renderer.close()


def scene_inputs(model, scene) -> tuple[np.ndarray, np.ndarray]:
    """``(C,)`` identity coefficients and ``(E,)`` dense expression activations of a scene."""
    coef = np.asarray(model.identity_from_params(scene.identity).coefficients, np.float64)
    expr = np.zeros(len(model.expression_names))
    for name, value in scene.expression.units:
        expr[model.expression_names.index(name)] = value
    return coef, expr


def write_label_set(parent: h5py.Group, name: str, spec, texts: dict[str, str], spec_source: str,
                    labels: dict[str, np.ndarray]) -> None:
    """Group ``parent/name`` with ``LABEL_FIELDS`` arrays and the spec's attributes.

    The bool flags are deflated (13-480x smaller); the float32 coordinates are stored plain: their
    low mantissa bytes are noise, so deflate saved only 21% of a label file (490 points, 256
    samples: 4.0 vs 5.1 MB) while writing took 104 instead of 59 us a sample and reading 6x longer."""
    g = parent.create_group(name)
    for k in sf.LABEL_FIELDS:
        if labels[k].dtype == np.bool_:
            sf.write_deflated(g, k, labels[k])
        else:
            g.create_dataset(k, data=labels[k])
    g.attrs["spec_name"] = spec.name
    g.attrs["spec_hash"] = spec.content_hash
    g.attrs["spec_source"] = str(spec_source)
    g.attrs["spec_text"] = sf.canonical_json(texts)
    g.attrs["landmark_names"] = json.dumps(list(spec.names))
    g.attrs["group_names"] = json.dumps(list(spec.group_names))
    g.attrs["group_slices"] = json.dumps([list(s) for s in spec.group_slices])
    g.attrs["flip"] = spec.flip
    g.attrs["ibug68"] = spec.ibug68
    g.attrs["silhouette"] = spec.silhouette


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_shard(task: ShardTask, ctx: WorkerContext, progress=None) -> ShardResult:
    """Render, label and write one shard atomically; ``progress(n)`` is called per image."""
    from facegen.generator.camera import scene_camera
    from facegen.generator.samplers import sample_scene
    plan, n, res = task.plan, task.count, task.plan.resolution
    if n < 1:
        raise ValueError(f"shard {task.shard_index} has no samples")
    out = Path(plan.out_dir)
    final = out / task.file
    tmp = out / f"{task.file}{sf.TMP_SUFFIX}-{os.getpid()}"
    model = ctx.model
    cols = {k: [] for k in ("scene_json", "identity", "expression", "gaze", "head_pose", "K", "R", "t")}
    try:
        with h5py.File(tmp, "w") as f:
            images = f.create_dataset("images", (n, res, res, 3), np.uint8, chunks=(1, res, res, 3),
                                      **compression_kwargs(plan.image_compression))
            depth = f.create_dataset("depth", (n, res, res), np.float16, chunks=(1, res, res),
                                     **compression_kwargs(DEPTH_COMPRESSION))
            seg = (f.create_dataset("segmentation", (n, res, res), np.uint8, chunks=(1, res, res),
                                    **compression_kwargs("gzip-1")) if plan.segmentation else None)
            depth16 = np.empty((n, res, res), np.float16)
            for j in range(n):
                scene = sample_scene(ctx.cfg, plan.seed, task.first_index + j)
                verts = model.scene_vertices(scene)
                cam = scene_camera(model, scene, verts, res, res)
                r = ctx.renderer.render(scene, verts, cam, segmentation=plan.segmentation, depth=True)
                images[j] = r.rgb
                depth16[j] = r.depth.astype(np.float16)
                depth[j] = depth16[j]
                if seg is not None:
                    seg[j] = r.segmentation
                coef, expr = scene_inputs(model, scene)
                for k, v in (("scene_json", sf.canonical_json(scene.to_dict())), ("identity", coef),
                             ("expression", expr), ("gaze", [scene.gaze.yaw_deg, scene.gaze.pitch_deg]),
                             ("head_pose", [scene.head_pose.yaw_deg, scene.head_pose.pitch_deg,
                                            scene.head_pose.roll_deg]), ("K", cam.K), ("R", cam.R), ("t", cam.t)):
                    cols[k].append(v)
                if progress:
                    progress(1)
            arr = {k: np.asarray(v, np.float64) for k, v in cols.items() if k != "scene_json"}
            inputs = SampleInputs(arr["identity"], arr["expression"], arr["gaze"], arr["head_pose"], arr["K"],
                                  arr["R"], arr["t"], depth16)
            labels = ctx.labeler.label(inputs)
            s = f.create_group("samples")
            s.create_dataset("seed", data=np.full(n, plan.seed, np.int64))
            s.create_dataset("index", data=np.arange(task.first_index, task.first_index + n, dtype=np.int64))
            s.create_dataset("scene_json", data=cols["scene_json"], dtype=h5py.string_dtype("utf-8"))
            for name, key in (("head_pose", "head_pose"), ("gaze", "gaze"), ("identity_coefficients", "identity"),
                              ("expression", "expression"), ("camera_K", "K"), ("camera_R", "R"), ("camera_t", "t")):
                s.create_dataset(name, data=arr[key])
            write_label_set(f.create_group("labels"), plan.spec_name, ctx.spec, ctx.spec_texts, plan.spec_source,
                            labels)
            for k, v in dict(schema_version=sf.SCHEMA_VERSION, generator_version=generator_version(),
                             dataset_key=plan.key(), shard_index=task.shard_index, first_index=task.first_index,
                             count=n, seed=plan.seed, height=res, width=res, renderer=plan.renderer,
                             renderer_settings=sf.canonical_json(plan.renderer_settings),
                             config=sf.canonical_json(plan.config), default_label_set=plan.spec_name,
                             expression_names=json.dumps(model.expression_names),
                             image_compression=plan.image_compression).items():
                f.attrs[k] = v
            f.flush()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        digest, size = sf.sha256_file(tmp), tmp.stat().st_size
        os.replace(tmp, final)
        _fsync_dir(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ShardResult(task.file, task.shard_index, task.first_index, n, digest, size)


def result_dict(r: ShardResult) -> dict:
    return asdict(r)
