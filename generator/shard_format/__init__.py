"""The on-disk dataset format: HDF5 shards plus a JSON manifest (documented in ``generator/SHARDS.md``).

This package is the one owner of the layout: every write has its read here, and the writer,
relabel, loaders, inspect/view/stats and the trainer use these functions instead of naming
datasets or manifest keys themselves. It imports numpy, h5py, the two deflate libraries and the
standard library (the loaders import it, so never bpy, pyrender or torch). Bump
``SCHEMA_VERSION`` whenever a dataset is renamed, retyped or re-meant.

Layout of a dataset folder::

    manifest.json                     # Manifest: shards, counts, sha256 checksums, label sets
    shard-00000.h5 ...                # images, per-sample scene data (/samples), the render-time label set
    labels/<name>/shard-00000.h5 ...  # label sets added later by ``facegen relabel``

- ``layout``: names, the array tables (``SAMPLE_FIELDS``, ``LABEL_FIELDS``, ``IMAGE_FIELDS``), checksums, ``DatasetError``
- ``manifest``: ``Manifest`` and ``read_manifest`` / ``write_manifest``
- ``groups``: ``write_samples`` / ``read_samples``, ``write_label_set`` / ``read_label_set_info`` / ``read_labels``
- ``chunks``: image and depth rows deflated and inflated past HDF5's filter pipeline
- ``checks``: per-file checks (regular file, size, sha256, structure, finite values, depth)
- ``dataset``: validation before reading: ``open_dataset`` (view, stats, export), ``dataset_problems``
  (inspect), ``check_manifest`` + ``shard_problems`` (loaders and relabel, per shard on first open)
"""

from facegen.generator.shard_format.chunks import (InflateError, deflated_rows, depth_from_bytes, float16_codes,
                                                   float16_from_bytes, inflate, inflate_row, read_depth_bytes,
                                                   stored_rows, write_deflated)
from facegen.generator.shard_format.checks import depth_problems, file_problem, finite_problems
from facegen.generator.shard_format.dataset import (check_manifest, dataset_problems, manifest_problems, open_dataset,
                                                    shard_problems, validate_dataset)
from facegen.generator.shard_format.groups import (LABELER_INPUTS, LabelSetInfo, read_label_arrays,
                                                   read_label_set_info, read_labels, read_samples, write_label_set,
                                                   write_samples)
from facegen.generator.shard_format.layout import (IMAGE_FIELDS, LABEL_FIELDS, LABELS_DIR, MANIFEST_NAME, READ_ERRORS,
                                                   SAMPLE_FIELDS, SCHEMA_VERSION, SHARD_PATTERN, SINCE_SCHEMA, TMP_SUFFIX,
                                                   DatasetError, canonical_json, corrupt_shard, sha256_file,
                                                   shard_name)
from facegen.generator.shard_format.manifest import (SHARD_LOCATION, LabelFileEntry, LabelSetEntry, Manifest,
                                                     ShardEntry, SpecRecord, read_manifest, relabel_location,
                                                     write_manifest)

__all__ = ["DatasetError", "IMAGE_FIELDS", "InflateError", "LABELER_INPUTS", "LABELS_DIR", "LABEL_FIELDS",
           "LabelFileEntry", "LabelSetEntry", "LabelSetInfo", "MANIFEST_NAME", "Manifest", "READ_ERRORS",
           "SAMPLE_FIELDS", "SCHEMA_VERSION", "SINCE_SCHEMA", "SHARD_LOCATION", "SHARD_PATTERN", "ShardEntry", "SpecRecord",
           "TMP_SUFFIX", "canonical_json", "check_manifest", "corrupt_shard", "dataset_problems", "deflated_rows",
           "depth_from_bytes", "depth_problems", "file_problem", "finite_problems", "float16_codes",
           "float16_from_bytes", "inflate", "inflate_row", "manifest_problems", "open_dataset", "read_depth_bytes",
           "read_label_arrays", "read_label_set_info", "read_labels", "read_manifest", "read_samples",
           "relabel_location", "sha256_file", "shard_name", "shard_problems", "stored_rows", "validate_dataset",
           "write_deflated", "write_label_set", "write_manifest", "write_samples"]
