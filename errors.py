"""The one base class of user-facing errors.

Every error caused by what a user handed facegen (a spec, a scene or train config, a dataset
folder, a shard, a checkpoint, a command-line argument) derives from ``UserError``; its message
is one line naming the file and the key or line. ``facegen.cli.main`` catches ``UserError`` once,
prints that line and exits 2. Anything else is a bug and keeps its traceback.

The subclasses live beside the code that raises them: ``landmark_specs.spec_file.SpecError``,
``generator.config.ConfigError`` (scene configs), ``generator.shard_format.DatasetError``,
``loaders.errors.LoaderError``, ``trainer.config.ConfigError`` and ``trainer.config.TrainerError``.
This module imports nothing, so every layer may import it.
"""


class UserError(Exception):
    """Bad input from a user (file, key or argument named in the one-line message); never a bug."""
