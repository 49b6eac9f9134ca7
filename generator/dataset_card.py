"""The dataset card: ``README.md`` beside ``manifest.json``, so a dataset folder explains itself.

``card_text`` is a pure function of the ``Manifest`` (and of ``assets/MANIFEST.json``, the
licences of what the pictures are made of). The runner writes the card when a render ends, and
relabel rewrites it when it adds a label set. A ``README.md`` facegen did not write (its first
line is not ``CARD_MARKER``) is never overwritten or deleted.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from importlib import resources
from pathlib import Path

from facegen.generator import shard_format as sf
from facegen.generator.atomic_write import write_text_atomic

CARD_NAME = "README.md"
CARD_MARKER = "<!-- facegen dataset card: rewritten by facegen render and relabel -->"
CODE_LICENCE = "Apache-2.0"  # facegen's own code (setup.cfg)


def is_card(path: str | Path) -> bool:
    """Whether ``path`` is a card facegen wrote (named ``CARD_NAME``, first line ``CARD_MARKER``)."""
    if Path(path).name != CARD_NAME:
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().strip() == CARD_MARKER
    except OSError:
        return False


def config_hash(config: dict) -> str:
    """16 hex digits of the sha256 of the scene config's canonical JSON."""
    return hashlib.sha256(sf.canonical_json(config).encode()).hexdigest()[:16]


def render_command(spec: str, num: int, out: str, renderer: str, seed: int, resolution: int, shard_size: int,
                   renderer_settings: dict, segmentation: bool, config_path: str | None = None) -> str:
    """The ``facegen render`` command line making these samples (the options they depend on, plus
    ``--num``, ``--out`` and ``--shard-size``; workers and executor change nothing)."""
    args = ["facegen", "render", "--spec", spec, "--num", str(num), "--out", out, "--renderer", renderer,
            "--seed", str(seed), "--resolution", str(resolution), "--shard-size", str(shard_size)]
    if config_path:
        args += ["--config", config_path]
    for k, v in sorted(renderer_settings.items()):
        args += ["--renderer-setting", f"{k}={json.dumps(v)}"]
    if not segmentation:
        args.append("--no-segmentation")
    return shlex.join(args)


def plan_command(plan) -> str:
    """``render_command`` of a ``writer.DatasetPlan`` (what the runner records in the manifest)."""
    return render_command(plan.spec_source, plan.num, plan.out_dir, plan.renderer, plan.seed, plan.resolution,
                          plan.shard_size, plan.renderer_settings, plan.segmentation, plan.config_path)


def asset_licences() -> list[tuple[str, str, str]]:
    """``(asset, source, licence)`` of every render asset ``assets/MANIFEST.json`` records (not the
    landmark model, ``used_by: predict``)."""
    try:
        data = json.loads(resources.files("facegen.assets").joinpath("MANIFEST.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, ModuleNotFoundError):
        return []
    return [(name, str(e.get("source", "")), str(e.get("licence", ""))) for name, e in sorted(data.items())
            if e.get("used_by") != "predict"]


def card_text(m: sf.Manifest) -> str:
    """The card of a dataset with manifest ``m`` (Markdown)."""
    done = sum(r.count for r in m.shards)
    state = "complete" if m.complete else f"INCOMPLETE: {done} of {m.num} samples finished"
    order = sorted(m.label_sets.values(), key=lambda s: (not s.in_shard, s.name))  # render-time set first
    sets = "\n".join(f"| `{s.name}` | {s.spec_name} | {s.num_landmarks or '?'} | `{s.spec_hash}` | "
                     f"{'in the shards' if s.in_shard else s.location + '/'} | {'yes' if len(s.ibug68) == 68 else 'no'} |"
                     for s in order)
    command = m.command or render_command(m.spec.source or m.spec.name, m.num, "DIR", m.renderer, m.seed,
                                          m.resolution, m.shard_size, m.renderer_settings, m.segmentation)
    settings = json.dumps(m.renderer_settings, sort_keys=True) if m.renderer_settings else "defaults"
    assets = [f"- `{name}`: {licence}. Source: {source}." for name, source, licence in asset_licences()]
    pictures = str(m.config.get("background", {}).get("image_folder", "") or "")
    if pictures:  # backgrounds drawn from the user's own pictures
        assets.append(f"- background pictures from `{pictures}` (scene config `background.image_folder`): "
                      f"their own licences apply.")
    assets = "\n".join(assets) or "- (assets/MANIFEST.json not found)"
    return f"""{CARD_MARKER}
# facegen dataset `{m.dataset_key}`

Synthetic face images with dense landmarks, rendered by facegen {m.generator_version}: {done} samples ({state}), {m.resolution}x{m.resolution}
pixels, renderer `{m.renderer}`. This file is rewritten by facegen from `manifest.json`.

## What made it

```bash
{command}
```

| | |
|---|---|
| facegen version | {m.generator_version} |
| dataset key (what the samples depend on) | `{m.dataset_key}` |
| seed | {m.seed} |
| scene config hash (sha256 of its canonical JSON, in `manifest.json` as `config`) | `{config_hash(m.config)}` |
| landmark spec at render time | {m.spec.name} (`{m.spec.hash}`), from `{m.spec.source}` |
| renderer | `{m.renderer}`, settings {settings} |

## Contents

- {done} samples in {len(m.shards)} shards of up to {m.shard_size} (`shard-*.h5`), {m.num} planned;
  sample indices from 0; each sample is a pure function of (config, spec, seed, index).
- Images: {m.resolution}x{m.resolution} sRGB, compression {m.image_compression}; per-pixel depth
  (float16 metres){'; segmentation masks' if m.segmentation else ''}; per sample head pose, gaze,
  expression, identity, camera (K, R, t) and the full scene as JSON.
- Label sets (2D and 3D landmarks, visible / self-occluded / out-of-frame flags, pupils):

| label set | spec | points | spec hash | where | iBUG-68 map |
|---|---|---|---|---|---|
{sets}

Format: HDF5 shards + `manifest.json`, schema version {m.schema_version} (facegen's `generator/SHARDS.md`).
`facegen inspect` checks every checksum; `facegen stats` and `facegen view` draw it.

## Load it

```python
from facegen.loaders import FaceShards
ds = FaceShards("path/to/this/folder", labels="{m.spec.name}")
item = ds[0]  # image (3, H, W), landmarks (K, 2) pixels, visibility (K,), pose, meta
```

Elsewhere: `facegen export path/to/this/folder --format coco --out coco/` (COCO keypoints, e.g. for mmpose)
or `--format 300w` (images + 68-point `.pts`).

## Licences

The heads in the pictures are synthetic, made from these assets:

{assets}

facegen's code: {CODE_LICENCE}.
"""


def write_card(folder: str | Path, m: sf.Manifest) -> bool:
    """Write ``folder/README.md`` atomically unless a README.md facegen did not write is there;
    returns whether it was written."""
    path = Path(folder) / CARD_NAME
    if path.exists() and not is_card(path):
        return False
    write_text_atomic(path, card_text(m))
    return True
