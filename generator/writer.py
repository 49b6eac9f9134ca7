"""Writing one shard: a pure function of (plan, shard index range), made crash-safe.

A shard is rendered into ``<name>.tmp-<pid>``, flushed, fsynced, checksummed and renamed to its
final name in one atomic step (``atomic_write.atomic_path``), so a killed run never leaves a half
shard under a shard name. The layout belongs to ``generator/shard_format`` (``SHARDS.md``).

The plan carries the resolved spec, its texts, its iBUG-68 map and the scene config as data:
they are read once, by the process that starts the run, and workers never re-read the YAML, so
editing a spec or config file during a run cannot make shards and manifest disagree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import h5py
import numpy as np

from facegen.generator import shard_format as sf
from facegen.generator.atomic_write import atomic_path
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
    """Everything that determines a dataset's samples (and so its key), plus the layout.
    Build it with ``make_plan``, which resolves the spec and reads the config once."""

    out_dir: str  # dataset folder
    seed: int  # dataset seed; sample i is a pure function of (config, seed, i)
    num: int  # number of samples
    shard_size: int  # samples per shard (the last may hold fewer)
    spec_source: str  # the spec file (absolute path) it was resolved from
    spec_hash: str  # ResolvedSpec.content_hash
    spec_name: str  # the spec's name: the render-time label set's name
    config_path: str | None  # scene config YAML (None: the default)
    config: dict = field(hash=False)  # config_to_dict of the loaded config
    spec: object = field(default=None, hash=False, compare=False, repr=False)  # the ResolvedSpec itself
    spec_texts: dict = field(default_factory=dict, hash=False, compare=False, repr=False)  # {file: YAML text}
    ibug68: tuple[int, ...] = ()  # (68,) iBUG correspondence of the spec (projection.ibug68_map)
    scene_config: object = field(default=None, hash=False, compare=False, repr=False)  # the SceneConfig
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


def make_plan(out_dir: str, spec: str, config_path: str | None = None, **layout) -> DatasetPlan:
    """A ``DatasetPlan`` for spec ``spec`` (shipped name or path) and scene config ``config_path``
    (None: the default), both read and resolved here, once; ``layout``: the remaining
    ``DatasetPlan`` fields (seed, num, shard_size, renderer, ...). Raises ``SpecError`` /
    ``ConfigError`` for bad files."""
    from facegen.generator.config import config_to_dict, load_scene_config
    from facegen.generator.head_model import HeadModel
    from facegen.generator.projection import ibug68_map, load_spec
    from facegen.landmark_specs.spec_file import find_spec_file
    model = HeadModel.load()
    source = str(find_spec_file(spec).resolve())
    resolved = load_spec(source, model)
    cfg = load_scene_config(config_path)
    return DatasetPlan(out_dir=str(Path(out_dir).resolve()), spec_source=source, spec_hash=resolved.content_hash,
                       spec_name=resolved.name, config_path=str(Path(config_path).resolve()) if config_path else None,
                       config=config_to_dict(cfg), spec=resolved, spec_texts=spec_texts(source),
                       ibug68=tuple(int(i) for i in ibug68_map(resolved, model)), scene_config=cfg, **layout)


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
    """What a worker builds once and reuses for every shard: model, labeler, renderer. The spec
    and the scene config come with the plan, as data (``make_plan``)."""

    def __init__(self, plan: DatasetPlan):
        from facegen.generator.backends import make_renderer
        from facegen.generator.head_model import HeadModel
        if plan.spec is None or plan.scene_config is None:
            raise ValueError("DatasetPlan without its resolved spec and scene config: build it with make_plan")
        self.model = HeadModel.load()
        self.cfg = plan.scene_config
        self.spec = plan.spec
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


def write_shard(task: ShardTask, ctx: WorkerContext, progress=None) -> sf.ShardEntry:
    """Render, label and write one shard atomically; ``progress(n)`` is called per image."""
    from facegen.generator.camera import scene_camera
    from facegen.generator.samplers import sample_scene
    plan, n, res = task.plan, task.count, task.plan.resolution
    if n < 1:
        raise ValueError(f"shard {task.shard_index} has no samples")
    final = Path(plan.out_dir) / task.file
    model = ctx.model
    cols = {k: [] for k in ("scene_json", "identity", "expression", "gaze", "head_pose", "K", "R", "t")}
    with atomic_path(final) as tmp:
        with h5py.File(tmp, "w") as f:
            images = f.create_dataset("images", (n, res, res, 3), np.uint8, chunks=(1, res, res, 3),
                                      **compression_kwargs(plan.image_compression))
            depth = f.create_dataset("depth", (n, res, res), np.float16, chunks=(1, res, res),
                                     **compression_kwargs(DEPTH_COMPRESSION))
            cover = np.zeros((n, res, res), np.uint8)
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
                if r.cover is not None:
                    cover[j] = r.cover
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
                                  arr["R"], arr["t"], depth16, cover)
            f.create_dataset("occlusion", data=cover, chunks=(1, res, res), **compression_kwargs("gzip-1"))
            labels = ctx.labeler.label(inputs)
            sf.write_samples(f, plan.seed, task.first_index, cols["scene_json"],
                             dict(head_pose=arr["head_pose"], gaze=arr["gaze"], identity_coefficients=arr["identity"],
                                  expression=arr["expression"], camera_K=arr["K"], camera_R=arr["R"],
                                  camera_t=arr["t"]))
            sf.write_label_set(f.create_group("labels"), plan.spec_name, ctx.spec, plan.spec_texts, plan.spec_source,
                               np.asarray(plan.ibug68, np.int64), labels)
            for k, v in dict(schema_version=sf.SCHEMA_VERSION, generator_version=generator_version(),
                             dataset_key=plan.key(), shard_index=task.shard_index, first_index=task.first_index,
                             count=n, seed=plan.seed, height=res, width=res, renderer=plan.renderer,
                             renderer_settings=sf.canonical_json(plan.renderer_settings),
                             config=sf.canonical_json(plan.config), default_label_set=plan.spec_name,
                             expression_names=json.dumps(model.expression_names),
                             image_compression=plan.image_compression).items():
                f.attrs[k] = v
            f.flush()
        digest, size = sf.sha256_file(tmp), tmp.stat().st_size
    return sf.ShardEntry(task.file, task.shard_index, task.first_index, n, digest, size)
