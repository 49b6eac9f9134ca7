"""Protocol (a): which landmark of a dataset's label set stands for each iBUG-68 point.

The writer and relabel store that map with every label set (``projection.ibug68_map``: the spec's
declared ``ibug68``, else the nearest landmark on the template); the trainer reads it from the
manifest and keeps it in its checkpoints. Datasets written before maps were stored get it
computed here from the label set's spec file, the same way.

This is a CLI/evaluation helper: it imports the generator core (shard format, and for old datasets
the head model), never a renderer backend; the model and loss code do not import it.
"""

from __future__ import annotations

from pathlib import Path

from facegen.generator import shard_format as sf
from facegen.trainer.config import TrainerError


def dataset_ibug68(dataset_root: str | Path, labels: str | None) -> tuple[str, list[int]]:
    """``(spec source, (68,) landmark index per iBUG point)`` of label set ``labels`` (a set name,
    its spec's stem, or None for the render-time set) of a shard dataset."""
    entry = sf.read_manifest(dataset_root).label_set(labels, dataset_root)
    if len(entry.ibug68) == 68:
        return entry.spec_source, list(entry.ibug68)
    from facegen.generator.head_model import HeadModel
    from facegen.generator.projection import ibug68_map, load_spec

    source = entry.spec_source
    if not Path(source).exists():  # a moved source path: the shipped spec of that stem
        source = Path(source).stem
    model = HeadModel.load()
    spec = load_spec(source, model)
    if spec.content_hash != entry.spec_hash:
        raise TrainerError(f"{Path(dataset_root) / sf.MANIFEST_NAME}: label set {entry.name!r} stores no iBUG-68 "
                           f"map and its spec {entry.spec_source} has changed since; relabel the dataset")
    return entry.spec_source, [int(i) for i in ibug68_map(spec, model)]
