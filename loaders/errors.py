"""The loaders' one exception type for bad input (missing/corrupt shard, unknown label set, bad .pts)."""

from facegen.errors import UserError


class LoaderError(UserError, ValueError):
    """Bad input to a loader; the one-line message starts with the offending file's path."""
