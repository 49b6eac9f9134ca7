"""Checks every layer applies to what a user hands facegen: YAML files, numbers, names.

- ``read_yaml``: a regular file of at most ``MAX_YAML_BYTES``, UTF-8, valid YAML nested at most
  ``MAX_YAML_DEPTH`` deep, with no lone surrogate in any string; each problem is one
  ``make_error(where, message)`` with ``where`` the line (``line 3``) or the key path.
- ``Range`` / ``ranged``: a documented interval stored next to a dataclass field (``metadata``),
  and ``finite`` for numbers that must be real and finite (huge YAML integers included).
- ``SET_NAME_RE``: names that become folder names (spec names, label sets);
  ``control_characters``, ``printable`` and ``one_line`` keep names and messages on one line.
- ``output_folder_problem`` / ``output_file_problem``: whether an output path can be written
  (tried with a temporary file), before any work.

Used by landmark specs, scene configs, train configs and the CLI's argument types. Imports only
yaml; raises only the caller's ``UserError`` subclass.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

MAX_YAML_BYTES = 2 ** 20  # a spec or config larger than this is not one (/dev/zero never ends)
MAX_NAME_BYTES = 255  # one file or folder name (the usual file-system limit)
MAX_YAML_DEPTH = 32  # nesting of mappings and lists; deeper input would exhaust Python's recursion
# A spec name or label-set name: a folder name (labels/<name>/) and an HDF5 group name.
SET_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class Range:
    """The valid values of a number: ``[lo, hi]``, either end open when flagged."""

    lo: float  # smallest valid value (or the open bound)
    hi: float  # largest valid value (or the open bound)
    lo_open: bool = False  # lo itself is not valid
    hi_open: bool = False  # hi itself is not valid

    def __contains__(self, x: float) -> bool:
        return (self.lo < x if self.lo_open else self.lo <= x) and (x < self.hi if self.hi_open else x <= self.hi)

    def __str__(self) -> str:
        return f"{'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"


def ranged(lo: float, hi: float, default: Any = dataclasses.MISSING, lo_open: bool = False, hi_open: bool = False):
    """A dataclass field whose valid values are ``Range(lo, hi, ...)`` (``field.metadata["range"]``)."""
    return dataclasses.field(default=default, metadata={"range": Range(lo, hi, lo_open, hi_open)})


def field_range(f: dataclasses.Field) -> Range | None:
    """The ``Range`` declared with ``ranged`` on a dataclass field, else None."""
    return f.metadata.get("range")


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a real, finite number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        x = float(value)
    except OverflowError:  # an integer beyond float range
        return None
    return x if math.isfinite(x) else None


def control_characters(text: str) -> str | None:
    """The first control character (or lone surrogate) of ``text`` as an escape, else None."""
    m = _CONTROL.search(text) or _SURROGATE.search(text)
    return None if m is None else _escape(m)


def printable(text: str) -> str:
    """``text`` with control characters (newlines included) and lone surrogates escaped (``\\n``)."""
    return _CONTROL.sub(_escape, _SURROGATE.sub(_escape, text))


def one_line(message: str, limit: int = 2000) -> str:
    """``message`` as one printable line: whitespace runs (newlines included) become one space,
    other control characters and lone surrogates are escaped, and it is cut at ``limit`` characters."""
    text = printable(" ".join(message.split()))
    return text if len(text) <= limit else text[:limit] + " ..."


def _escape(m: re.Match) -> str:
    return m.group().encode("unicode_escape", "backslashreplace").decode("ascii")


def surrogate_free(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogate from a ``"\\ud800"`` escape)."""
    return _SURROGATE.search(text) is None


def output_folder_problem(folder: str | Path) -> str | None:
    """Why files cannot be written into ``folder`` (made with its parents when missing): under a
    file, in a folder that cannot be written, a name too long; else None. Writability is tried
    (an unnamed temporary file), so read-only mounts and permissions count, even for root."""
    text = str(folder)
    if not text:
        return "an empty path"
    char = control_characters(text)
    if char:
        return f"the path holds the control character {char}"
    if any(len(os.fsencode(part)) > MAX_NAME_BYTES for part in Path(text).parts):
        return f"a name in the path is longer than {MAX_NAME_BYTES} bytes"
    probe = Path(text)
    while True:
        try:
            mode = os.stat(probe).st_mode
            break
        except (FileNotFoundError, NotADirectoryError):
            if probe == probe.parent:
                return f"{probe} does not exist"
            probe = probe.parent
        except OSError as exc:
            return f"cannot access {probe} ({exc.strerror})"
    if not stat.S_ISDIR(mode):
        return f"{probe} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=probe, prefix=".facegen-probe-"):
            pass
    except OSError as exc:
        return f"cannot write in {probe} ({exc.strerror})"
    return None


def output_file_problem(path: str | Path) -> str | None:
    """Why the file ``path`` cannot be written: its folder is missing or cannot be written, the
    path is a folder; else None."""
    p = Path(str(path))
    char = control_characters(str(path))
    if char:
        return f"the path holds the control character {char}"
    if len(os.fsencode(p.name)) > MAX_NAME_BYTES:
        return f"the file name is longer than {MAX_NAME_BYTES} bytes"
    if str(path) and p.is_dir():
        return f"{p} is a folder"
    parent = p.parent
    if not parent.is_dir():
        return f"folder {parent} does not exist"
    return output_folder_problem(parent) or (None if p.name else "no file name")


class Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses input nested deeper than ``MAX_YAML_DEPTH`` (the composer
    recurses once per level: 500 levels would raise RecursionError)."""

    _depth = 0

    def compose_node(self, parent, index):
        if self._depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels",
                                              self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _line(text: str, position: int) -> str:
    """``line N`` of character ``position`` of ``text``."""
    n = text.count("\n", 0, position) + 1
    return f"line {n}"


def read_yaml(path: str | Path, make_error: Callable[[str, str], Exception], loader: type = Loader) -> Any:
    """The YAML data of the file ``path``; any problem raises ``make_error(where, message)``."""
    path = Path(path)
    if "\0" in str(path):
        raise make_error("", "the file name holds a NUL character")
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise make_error("", "not a regular file")
        with open(path, "rb") as f:
            data = f.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise make_error("", f"cannot read ({exc.strerror or exc.__class__.__name__})") from None
    if len(data) > MAX_YAML_BYTES:
        raise make_error("", "larger than 1 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise make_error(f"line {line}", f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None
    try:
        value = yaml.load(text, Loader=loader)  # a SafeLoader: plain data only
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = one_line(str(exc.problem or exc.context or "invalid YAML"))
        raise make_error(f"line {mark.line + 1}" if mark else "", f"YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, ...)
        raise make_error(_line(text, exc.position), f"YAML syntax error: character {exc.character!r} "
                                                    "is not allowed") from None
    except yaml.YAMLError as exc:
        raise make_error("", f"YAML syntax error: {one_line(str(exc))}") from None
    bad = _first_surrogate(value, "", set())
    if bad is not None:
        raise make_error(bad or "top level", "a string holds a lone surrogate (a \\ud800-\\udfff escape): not "
                                             "valid Unicode")
    return value


def _first_surrogate(value: Any, where: str, seen: set) -> str | None:
    """Key path of the first string (key or value) holding a lone surrogate; ``seen`` guards
    against aliases (shared and recursive lists and mappings)."""
    if isinstance(value, str):
        return None if surrogate_free(value) else where
    if not isinstance(value, (list, dict)) or id(value) in seen:
        return None
    seen.add(id(value))
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        sub = f"{where}[{key}]" if isinstance(value, list) else f"{where}.{key}" if where else str(key)
        if isinstance(key, str) and not surrogate_free(key):
            return sub
        found = _first_surrogate(item, sub, seen)
        if found is not None:
            return found
    return None
