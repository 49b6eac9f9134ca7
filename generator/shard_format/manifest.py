"""``manifest.json``: what a dataset folder holds, as a frozen dataclass with its read/write pair.

The writer and ``relabel`` build a ``Manifest`` and ``write_manifest`` it atomically; every reader
(loaders, inspect, view, stats, the trainer) goes through ``read_manifest`` and resolves label-set
names with ``Manifest.label_set``. Nothing else parses the JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from facegen.generator.atomic_write import write_text_atomic
from facegen.generator.shard_format.layout import LABELS_DIR, MANIFEST_NAME, SCHEMA_VERSION, DatasetError
from facegen.user_input import one_line

MAX_MANIFEST_BYTES = 1 << 28  # read_manifest refuses a larger file (a million shards take ~300 MB)
SHARD_LOCATION = "shard"  # label_sets[...].location of the render-time set (inside each shard)


@dataclass(frozen=True)
class ShardEntry:
    """A finished shard."""

    file: str  # file name in the dataset folder
    shard_index: int  # k of shard-{k:05d}.h5
    first_index: int  # first sample index
    count: int  # samples in it
    sha256: str  # hex checksum of the file
    bytes: int  # file size


@dataclass(frozen=True)
class LabelFileEntry:
    """One label file of a set added by relabel (``labels/<name>/<shard file>``)."""

    file: str  # the shard's file name (the label file has the same name in its folder)
    sha256: str  # hex checksum of the label file
    bytes: int  # its size


@dataclass(frozen=True)
class LabelSetEntry:
    """A label set: which spec made it, where it lives, which of its points are the iBUG 68."""

    name: str  # label set name (/labels/<name> in its HDF5 files)
    location: str  # SHARD_LOCATION, or "labels/<name>" (relabel)
    spec_name: str  # the spec's name
    spec_hash: str  # ResolvedSpec.content_hash
    spec_source: str  # spec file at write time ("" if unknown)
    ibug68: tuple[int, ...] = ()  # (68,) landmark index standing for each iBUG point; () if not stored
    files: tuple[LabelFileEntry, ...] = ()  # relabel sets: one per shard
    num_landmarks: int = 0  # K of the spec; 0: not recorded (manifests written before it was)

    @property
    def in_shard(self) -> bool:
        return self.location == SHARD_LOCATION


@dataclass(frozen=True)
class SpecRecord:
    """The render-time spec."""

    name: str  # spec name (= the render-time label set's name)
    hash: str  # content hash
    source: str  # spec file (absolute path at render time)
    texts: dict = field(default_factory=dict)  # {file name: YAML text} of the spec and its includes


@dataclass(frozen=True)
class Manifest:
    """The contents of ``manifest.json`` (schema ``SCHEMA_VERSION``)."""

    schema_version: int  # of the dataset
    generator_version: str  # facegen version that wrote it
    dataset_key: str  # hash of what the samples depend on (DatasetPlan.key)
    seed: int  # dataset seed
    num: int  # samples planned
    shard_size: int  # samples per shard
    resolution: int  # image width = height, pixels
    renderer: str  # backend name
    renderer_settings: dict  # backend keyword arguments
    config: dict  # scene config (config_to_dict)
    segmentation: bool  # shards hold segmentation masks
    image_compression: str  # lzf | gzip-<level> | none
    spec: SpecRecord  # the render-time spec
    complete: bool  # every planned shard is finished
    samples_done: int  # samples in finished shards
    shards: tuple[ShardEntry, ...]  # finished shards, by shard index
    failures: tuple[tuple[int, str], ...]  # (shard index, error) of the last run's failed shards
    label_sets: dict  # name -> LabelSetEntry; the render-time set is named spec.name
    command: str = ""  # the `facegen render` command line that makes these samples ("": not recorded)

    def label_set(self, labels: str | None, folder: str | Path = ".") -> LabelSetEntry:
        """The label set meant by ``labels``: a set name (``dense490``), the stem of its spec file
        (``490``), or None for the render-time set. ``DatasetError`` naming the manifest if none
        or several match."""
        if labels is None:
            labels = self.spec.name
        if labels in self.label_sets:
            return self.label_sets[labels]
        stems = {n: Path(s.spec_source).stem if s.spec_source else "" for n, s in self.label_sets.items()}
        hits = [n for n, stem in stems.items() if stem == labels]
        if len(hits) != 1:
            have = ", ".join(f"{n} ({stems[n]}.yaml)" for n in self.label_sets)
            why = "is ambiguous" if hits else "does not exist"
            raise DatasetError(f"{Path(folder) / MANIFEST_NAME}: label set {labels!r} {why} (have: {have})")
        return self.label_sets[hits[0]]

    def label_file(self, folder: str | Path, labels: str | None, shard_file: str) -> Path:
        """The HDF5 file holding label set ``labels`` of ``shard_file``: the shard itself for the
        render-time set, ``labels/<name>/<shard_file>`` for a set added by relabel."""
        entry = self.label_set(labels, folder)
        return Path(folder) / (shard_file if entry.in_shard else Path(entry.location) / shard_file)

    def with_label_set(self, entry: LabelSetEntry) -> "Manifest":
        """A copy with ``entry`` added (or replacing the set of that name)."""
        return dataclasses.replace(self, label_sets={**self.label_sets, entry.name: entry})

    def to_dict(self) -> dict:
        """The JSON form (what ``manifest.json`` holds)."""
        d = dataclasses.asdict(self)
        d["failures"] = [list(f) for f in self.failures]
        sets = {}
        for name, s in self.label_sets.items():
            e = dict(location=s.location, spec_name=s.spec_name, spec_hash=s.spec_hash, spec_source=s.spec_source,
                     ibug68=list(s.ibug68), num_landmarks=s.num_landmarks)
            if not s.in_shard:
                e["files"] = [dataclasses.asdict(f) for f in s.files]
            sets[name] = e
        d["label_sets"] = sets
        return d

    @classmethod
    def from_dict(cls, d: dict, path: str | Path = MANIFEST_NAME) -> "Manifest":
        """Parse the JSON form; ``DatasetError`` naming ``path`` and the key when it is malformed."""
        key = "spec"
        try:
            sp = d["spec"]
            spec = SpecRecord(str(sp["name"]), str(sp["hash"]), str(sp["source"]), dict(sp.get("texts", {})))
            shards = []
            for i, s in enumerate(d["shards"]):
                key = f"shards[{i}]"
                shards.append(ShardEntry(str(s["file"]), int(s["shard_index"]), int(s["first_index"]),
                                         int(s["count"]), str(s["sha256"]), int(s["bytes"])))
            sets = {}
            for name, s in d.get("label_sets", {}).items():
                key = f"label_sets.{name}"
                source = s.get("spec_source") or (spec.source if s["location"] == SHARD_LOCATION else "")
                files = tuple(LabelFileEntry(str(e["file"]), str(e["sha256"]), int(e["bytes"])) for e in s.get("files", []))
                sets[name] = LabelSetEntry(name, str(s["location"]), str(s["spec_name"]), str(s["spec_hash"]),
                                           str(source), tuple(int(i) for i in s.get("ibug68", ())), files,
                                           int(s.get("num_landmarks", 0)))
            key = "top level"
            return cls(schema_version=int(d["schema_version"]), generator_version=str(d.get("generator_version", "")),
                       dataset_key=str(d["dataset_key"]), seed=int(d["seed"]), num=int(d["num"]),
                       shard_size=int(d["shard_size"]), resolution=int(d["resolution"]), renderer=str(d["renderer"]),
                       renderer_settings=dict(d.get("renderer_settings", {})), config=dict(d.get("config", {})),
                       segmentation=bool(d.get("segmentation", True)),
                       image_compression=str(d.get("image_compression", "")), spec=spec,
                       complete=bool(d.get("complete", False)), samples_done=int(d.get("samples_done", 0)),
                       shards=tuple(shards), failures=tuple((int(k), str(w)) for k, w in d.get("failures", [])),
                       label_sets=sets, command=str(d.get("command", "")))
        except KeyError as exc:
            raise DatasetError(f"{path}: {key}: missing key {exc}") from None
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise DatasetError(f"{path}: {key}: malformed manifest ({one_line(str(exc))})") from None


def read_manifest(folder: str | Path) -> Manifest:
    """The manifest of a dataset folder; ``DatasetError`` (one line) if missing, unreadable, malformed
    or written by a newer facegen."""
    path = Path(folder) / MANIFEST_NAME
    try:
        st = os.lstat(path)  # a FIFO, device or symlink is refused before it is opened
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MANIFEST_BYTES:
            raise DatasetError(f"{path}: not a regular file of at most {MAX_MANIFEST_BYTES} bytes (refused unread)")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: no manifest (not a facegen dataset, or its first shard is unfinished)") from None
    except (OSError, UnicodeDecodeError, RecursionError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: unreadable manifest ({one_line(str(exc))})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise DatasetError(f"{path}: not a facegen manifest (no schema_version)")
    if not isinstance(data["schema_version"], int) or data["schema_version"] > SCHEMA_VERSION:
        raise DatasetError(f"{path}: schema version {data['schema_version']} is newer than this facegen's "
                           f"{SCHEMA_VERSION}; upgrade facegen")
    return Manifest.from_dict(data, path)


def write_manifest(folder: str | Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` atomically (sorted keys, one-space indent)."""
    write_text_atomic(Path(folder) / MANIFEST_NAME, json.dumps(manifest.to_dict(), indent=1, sort_keys=True) + "\n")


def relabel_location(name: str) -> str:
    """``location`` of a label set added by relabel under ``name``."""
    return f"{LABELS_DIR}/{name}"
