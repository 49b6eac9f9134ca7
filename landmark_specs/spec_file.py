"""Reading a landmark spec YAML file (with its includes) into plain, checked definitions.

This module knows the file format only; it never looks at a mesh. Turning the definitions into
surface points happens in ``landmark_specs/resolve.py``. The format is documented in
``landmark_specs/SPECS.md``.

Every problem is raised as ``SpecError`` naming the file and the key path (``groups.jaw.count``)
or the line, so that the CLI can print it as one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from facegen.errors import UserError
from facegen.user_input import SET_NAME_RE, Loader, control_characters, finite, printable, read_yaml

SHIPPED_DIR = Path(__file__).resolve().parent  # the shipped specs live next to this module
TOP_KEYS = ("name", "description", "include", "groups", "ibug68", "flip_pairs")
# Keys a group may have; exactly one of the "kind" keys decides what the group is.
KIND_KEYS = ("points", "anchors", "region", "mirror")
GROUP_KEYS = KIND_KEYS + ("count", "closed", "ends", "keep_anchors", "through", "box", "silhouette", "description")
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")  # group and point names: always ``fullmatch``
BARY_TOLERANCE = 1e-5  # allowed |sum(bary) - 1| and how negative a weight may be (6 written decimals)
MAX_LANDMARKS = 10_000  # landmarks per spec (all groups, includes merged), and so a count's maximum
MAX_SILHOUETTE = 1_000  # silhouette landmarks per spec (each casts 24 candidate rays when resolved)
MAX_ANCHORS = 256  # anchors per curve (each pair is joined by a shortest-path search)
MAX_INCLUDE_DEPTH = 16  # a spec including a spec including ...: at most this many files in a chain
MAX_ID = 2 ** 31 - 1  # largest vertex or triangle id written (the template's own are far smaller)
MAX_BOX_M = 10.0  # box limits lie in [-10, 10] metres (the head spans well under 1 m)
MAX_FILE_NAME = 255  # characters of one include name component (the usual file-system limit)


class SpecError(UserError, ValueError):
    """A bad spec: ``str()`` is one line ``FILE: KEY PATH: what is wrong``."""

    def __init__(self, file: str | Path, where: str, message: str):
        self.file = str(file)  # the spec file the problem is in
        self.where = where  # key path such as ``groups.jaw.anchors[2]``, or ``line 12``
        self.message = message  # what is wrong, in words
        text = f"{self.file}: {where}: {message}" if where else f"{self.file}: {message}"
        super().__init__(printable(text))  # a key or file name may hold a newline: escaped, one line


@dataclass(frozen=True)
class PointDef:
    """One surface point as written in the file: a vertex, or a triangle and barycentric weights."""

    vertex: int | None  # template vertex id, or None for a triangle point
    triangle: int | None  # template triangle id, or None for a vertex point
    bary: tuple[float, float, float] | None  # weights of the triangle's 3 corners (sum 1, >= 0)
    name: str | None  # explicit landmark name (``points`` groups only), else generated
    file: str  # the spec file it was written in
    where: str  # its key path in that file


@dataclass(frozen=True)
class GroupDef:
    """One named group of landmarks after includes and overrides were merged."""

    name: str  # group name, unique in the spec
    kind: str  # "points", "curve", "region" or "mirror"
    points: tuple[PointDef, ...]  # explicit points ("points") or curve anchors ("curve")
    count: int  # number of landmarks for "curve" and "region" groups (>= 2); else len(points)
    closed: bool  # "curve": the curve returns from the last anchor to the first
    ends: bool  # "curve", open: samples include the first and last anchor (false: strictly between)
    keep_anchors: bool  # "curve": every anchor is a sample (those between spread by arc length per segment)
    through: tuple[str, ...]  # "curve": template regions the surface path may cross (empty: any)
    region: str  # "region": template region name the samples are drawn from
    box: tuple[tuple[float, float], ...] | None  # "region": ((xlo, xhi), (ylo, yhi), (zlo, zhi)) metres
    mirror_of: str  # "mirror": the group this one mirrors left/right
    silhouette: bool  # 2D position also slides to the occluding contour (jaw line, face oval)
    file: str  # the file whose definition set the group's kind
    where: dict  # key -> (file, key path) of each key, for error messages


@dataclass(frozen=True)
class SpecDefinition:
    """A whole spec file with its includes merged, not yet bound to a mesh."""

    name: str  # the spec's name (``name:`` key, else the file stem)
    description: str  # free text
    file: str  # path of the top-level file
    groups: tuple[GroupDef, ...]  # in landmark order: included groups first, in include order
    ibug68: tuple[str | None, ...]  # per iBUG-68 index: a landmark or group name, GROUP@K (anchor K of a
    # keep_anchors curve), or None; may be empty
    ibug68_where: tuple[str, str]  # (file, key path) of the ibug68 list
    flip_pairs: tuple[tuple[str, str], ...] | None  # declared mirror group pairs; None: by _left/_right names
    flip_pairs_where: tuple[str, str]  # (file, key path) of the flip_pairs list


class _UniqueKeyLoader(Loader):
    """``user_input.Loader`` (a depth-limited ``yaml.SafeLoader``) that refuses a mapping key
    written twice (plain YAML keeps the last)."""


def _construct_unique_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            dup = key in seen
        except TypeError:  # unhashable key: let the normal constructor report it
            break
        if dup:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def shipped_specs() -> list[str]:
    """Stems of the shipped spec files (``["1001", "243", ...]``)."""
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml") if not p.stem.startswith("_"))


def find_spec_file(name: str | Path, relative_to: Path | None = None) -> Path:
    """An existing file path (relative to ``relative_to``'s folder first), else a shipped spec by
    name: ``"490"``, ``"490.yaml"``. Raises ``SpecError`` if there is neither."""
    file, where = (relative_to, "include") if relative_to else (name, "")
    bad = _file_name_problem(str(name))
    if bad:
        raise SpecError(file if relative_to else "spec", where, f"{str(name)[:80]!r}: {bad}")
    p = Path(name)
    candidates = [relative_to.parent / p] if relative_to is not None and not p.is_absolute() else []
    candidates += [p, SHIPPED_DIR / p, SHIPPED_DIR / f"{name}.yaml"]
    for c in candidates:
        try:
            if c.is_file():
                return c
        except OSError as exc:  # a folder on the way that cannot be searched, ...
            raise SpecError(file, where, f"{str(c)!r}: cannot access ({exc.strerror})") from None
    raise SpecError(file, where, f"no spec file {str(name)!r} (shipped specs: {', '.join(shipped_specs())})")


def _file_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a spec file (empty, control characters, too long), else None."""
    char = control_characters(name)
    if not name:
        return "an empty file name"
    if char:
        return f"a file name may not hold the control character {char}"
    if any(len(part.encode("utf-8")) > MAX_FILE_NAME for part in Path(name).parts):
        return f"a file name part is longer than {MAX_FILE_NAME} bytes"
    return None


def _read_yaml(path: Path):
    return read_yaml(path, lambda where, message: SpecError(path, where, message), _UniqueKeyLoader)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def parse_point(value, file: str, where: str, allow_name: bool) -> PointDef:
    """A point as written: ``123``, ``{vertex: 123}`` or ``{triangle: 45, bary: [a, b, c]}``,
    optionally with ``name:`` in ``points`` groups."""
    if _is_int(value):
        value = {"vertex": value}
    if not isinstance(value, dict):
        raise SpecError(file, where, "a point is a vertex id or a mapping {vertex: ID} or {triangle: ID, bary: [a, b, c]}")
    allowed = {"vertex", "triangle", "bary"} | ({"name"} if allow_name else set())
    extra = [k for k in value if k not in allowed]
    if extra:
        raise SpecError(file, f"{where}.{extra[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
    name = value.get("name")
    if name is not None and (not isinstance(name, str) or not NAME_RE.fullmatch(name)):
        raise SpecError(file, f"{where}.name", "a name is 1-64 letters, digits and _ starting with a letter")
    if "vertex" in value:
        if "triangle" in value or "bary" in value:
            raise SpecError(file, where, "give either vertex or triangle + bary, not both")
        v = value["vertex"]
        if not _is_int(v) or not 0 <= v <= MAX_ID:
            raise SpecError(file, f"{where}.vertex", f"vertex id must be an integer in [0, {MAX_ID}] (got {v!r})")
        return PointDef(v, None, None, name, file, where)
    if "triangle" not in value or "bary" not in value:
        raise SpecError(file, where, "a triangle point needs both triangle and bary")
    t, b = value["triangle"], value["bary"]
    if not _is_int(t) or not 0 <= t <= MAX_ID:
        raise SpecError(file, f"{where}.triangle", f"triangle id must be an integer in [0, {MAX_ID}] (got {t!r})")
    if not isinstance(b, list) or len(b) != 3 or any(finite(w) is None for w in b):
        raise SpecError(file, f"{where}.bary", f"bary must be a list of 3 finite numbers (got {b!r})")
    b = [finite(w) for w in b]
    if min(b) < -BARY_TOLERANCE:
        raise SpecError(file, f"{where}.bary", f"barycentric weights must be >= 0 (got {b})")
    if abs(sum(b) - 1.0) > BARY_TOLERANCE:
        raise SpecError(file, f"{where}.bary", f"barycentric weights must sum to 1 (sum {sum(b):.6g})")
    return PointDef(None, t, (float(b[0]), float(b[1]), float(b[2])), name, file, where)


def _group(name: str, entries: dict) -> GroupDef:
    """Check one merged group; ``entries`` maps key -> (value, file, key path)."""
    where = {k: (f, w) for k, (_, f, w) in entries.items()}
    val = {k: v for k, (v, _, _) in entries.items()}
    kinds = [k for k in KIND_KEYS if k in val]
    first_file, first_where = next(iter(where.values()))
    gpath = f"groups.{name}"
    if len(kinds) != 1:
        raise SpecError(first_file, gpath, f"a group needs exactly one of {', '.join(KIND_KEYS)} (got {kinds or 'none'})")
    kind_key = kinds[0]
    kfile, kwhere = where[kind_key]

    def check(key, ok, msg):
        if key in val and not ok(val[key]):
            raise SpecError(where[key][0], where[key][1], msg)

    check("count", lambda c: _is_int(c), "count must be an integer")
    check("count", lambda c: 2 <= c <= MAX_LANDMARKS, f"count must be >= 2 and <= {MAX_LANDMARKS} (got {val.get('count')!r})")
    check("closed", lambda c: isinstance(c, bool), "closed must be true or false")
    check("ends", lambda c: isinstance(c, bool), "ends must be true or false")
    check("keep_anchors", lambda c: isinstance(c, bool), "keep_anchors must be true or false")
    check("silhouette", lambda c: isinstance(c, bool), "silhouette must be true or false")
    check("description", lambda c: isinstance(c, str), "description must be text")
    check("through", lambda c: isinstance(c, list) and all(isinstance(r, str) for r in c),
          "through must be a list of region names")
    check("anchors", lambda c: not isinstance(c, list) or len(c) <= MAX_ANCHORS,
          f"a curve has at most {MAX_ANCHORS} anchors")
    allowed_by_kind = {"points": {"silhouette", "description"},
                       "anchors": {"count", "closed", "ends", "keep_anchors", "through", "silhouette", "description"},
                       "region": {"count", "box", "description"},
                       "mirror": {"description"}}[kind_key]
    for k in val:
        if k != kind_key and k not in allowed_by_kind:
            raise SpecError(where[k][0], where[k][1], f"key not allowed in a {kind_key} group")
    points: tuple[PointDef, ...] = ()
    count, region, mirror_of, box = 0, "", "", None
    if kind_key in ("points", "anchors"):
        seq = val[kind_key]
        if not isinstance(seq, list) or not seq:
            raise SpecError(kfile, kwhere, f"{kind_key} must be a non-empty list of points")
        points = tuple(parse_point(p, kfile, f"{kwhere}[{i}]", kind_key == "points") for i, p in enumerate(seq))
        if kind_key == "anchors":
            if len(points) < 2:
                raise SpecError(kfile, kwhere, "a curve needs at least 2 anchors")
            if "count" not in val:
                raise SpecError(kfile, gpath, "a curve needs a count")
            count = val["count"]
        else:
            count = len(points)
    elif kind_key == "region":
        region = val["region"]
        if not isinstance(region, str):
            raise SpecError(kfile, kwhere, "region must be a template region name")
        if "count" not in val:
            raise SpecError(kfile, gpath, "a region group needs a count")
        count = val["count"]
        if "box" in val:
            box = _box(val["box"], *where["box"])
    else:
        mirror_of = val["mirror"]
        if not isinstance(mirror_of, str):
            raise SpecError(kfile, kwhere, "mirror must name another group")
    return GroupDef(name=name, kind="curve" if kind_key == "anchors" else kind_key, points=points, count=count,
                    closed=bool(val.get("closed", False)), ends=bool(val.get("ends", True)),
                    keep_anchors=bool(val.get("keep_anchors", False)), through=tuple(val.get("through", ())),
                    region=region, box=box, mirror_of=mirror_of, silhouette=bool(val.get("silhouette", False)),
                    file=kfile, where=where)


def _box(value, file, where):
    if not isinstance(value, dict) or any(k not in ("x", "y", "z") for k in value):
        raise SpecError(file, where, "box must be a mapping with keys among x, y, z, each [low, high] in metres")
    out = []
    for axis in ("x", "y", "z"):
        lim = value.get(axis, [-MAX_BOX_M, MAX_BOX_M])
        lo, hi = (finite(a) for a in lim) if isinstance(lim, list) and len(lim) == 2 else (None, None)
        if lo is None or hi is None or not -MAX_BOX_M <= lo < hi <= MAX_BOX_M:
            raise SpecError(file, f"{where}.{axis}", f"must be [low, high] with {-MAX_BOX_M:g} <= low < high <= "
                                                     f"{MAX_BOX_M:g} (metres)")
        out.append((lo, hi))
    return tuple(out)


def _load_raw(path: Path, stack: tuple[Path, ...]) -> dict:
    """Merge one file over its includes: returns groups (name -> key -> (value, file, path)),
    ibug68, flip_pairs and the top-level fields."""
    data = _read_yaml(path)
    f = str(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(f, "", "the top level must be a mapping with keys among " + ", ".join(TOP_KEYS))
    for k in data:
        if k not in TOP_KEYS:
            raise SpecError(f, str(k), f"unknown key (allowed: {', '.join(TOP_KEYS)})")
    merged = {"groups": {}, "ibug68": None, "flip_pairs": None}
    inc = data.get("include", [])
    if isinstance(inc, str):
        inc = [inc]
    if not isinstance(inc, list) or not all(isinstance(i, str) for i in inc):
        raise SpecError(f, "include", "include must be a file name or a list of file names")
    for i, name in enumerate(inc):
        try:
            child = find_spec_file(name, relative_to=path).resolve()
        except SpecError as exc:  # missing, or a name no file can have
            raise SpecError(f, f"include[{i}]", exc.message) from None
        if child in stack:
            chain = " -> ".join(p.name for p in stack[stack.index(child):] + (child,))
            raise SpecError(f, f"include[{i}]", f"include cycle: {chain}")
        if len(stack) >= MAX_INCLUDE_DEPTH:
            raise SpecError(f, f"include[{i}]", f"includes nested deeper than {MAX_INCLUDE_DEPTH} files")
        sub = _load_raw(child, stack + (child,))
        for g, entries in sub["groups"].items():
            merged["groups"][g] = dict(entries)  # a later include replaces an earlier one's group
        for key in ("ibug68", "flip_pairs"):
            if sub[key] is not None:
                merged[key] = sub[key]
    groups = data.get("groups", {})
    if groups is None:
        groups = {}
    if not isinstance(groups, dict):
        raise SpecError(f, "groups", "groups must be a mapping from group name to its definition")
    for g, body in groups.items():
        if not isinstance(g, str) or not NAME_RE.fullmatch(g):
            raise SpecError(f, f"groups.{g}", "a group name is 1-64 letters, digits and _ starting with a letter")
        if not isinstance(body, dict) or not body:
            raise SpecError(f, f"groups.{g}", "a group is a mapping (points/anchors/region/mirror, count, ...)")
        for k in body:
            if k not in GROUP_KEYS:
                raise SpecError(f, f"groups.{g}.{k}", f"unknown key (allowed: {', '.join(GROUP_KEYS)})")
        entries = {k: (v, f, f"groups.{g}.{k}") for k, v in body.items()}
        old = merged["groups"].get(g)
        if old is not None and not any(k in body for k in KIND_KEYS):
            old = dict(old)
            old.update(entries)  # an override of some keys (e.g. a larger count) of an included group
            entries = old
        merged["groups"][g] = entries
    for key in ("ibug68", "flip_pairs"):
        if key in data:
            merged[key] = (data[key], f, key)
    merged["name"] = data.get("name", path.stem)
    merged["description"] = data.get("description", "")
    for key in ("name", "description"):
        if not isinstance(merged[key], str):
            raise SpecError(f, key, f"{key} must be text")
    return merged


def _check_total(groups: tuple[GroupDef, ...], path: Path) -> None:
    """At most ``MAX_LANDMARKS`` landmarks in all (a mirror group counts as the group it mirrors;
    an unknown or cyclic mirror counts 0 here and is reported when the spec is resolved), and at
    most ``MAX_SILHOUETTE`` of them in silhouette groups."""
    by_name = {g.name: g for g in groups}

    def size(g: GroupDef, seen: tuple[str, ...]) -> int:
        if g.kind != "mirror":
            return g.count
        src = by_name.get(g.mirror_of)
        return 0 if src is None or src.name in seen else size(src, seen + (src.name,))

    total = sum(size(g, (g.name,)) for g in groups)
    if total > MAX_LANDMARKS:
        raise SpecError(path, "groups", f"{total} landmarks in all; a spec has at most {MAX_LANDMARKS}")
    contour = sum(g.count for g in groups if g.silhouette)
    if contour > MAX_SILHOUETTE:
        raise SpecError(path, "groups", f"{contour} silhouette landmarks in all; a spec has at most {MAX_SILHOUETTE}")


def load_spec_definition(name: str | Path) -> SpecDefinition:
    """Read a spec file (a path, or a shipped spec name such as ``"68"``) with its includes."""
    path = find_spec_file(name).resolve()
    raw = _load_raw(path, (path,))
    if not SET_NAME_RE.fullmatch(raw["name"]):
        raise SpecError(path, "name", f"{raw['name'][:80]!r} is not a usable spec name: 1-64 letters, digits, _ . - "
                                      "starting with a letter or digit (it names the label set and its folder; "
                                      "without name: the file name is used)")
    groups = tuple(_group(g, entries) for g, entries in raw["groups"].items())
    if not groups:
        raise SpecError(path, "groups", "the spec defines no groups")
    _check_total(groups, path)
    ibug: tuple = ()
    ibug_where = (str(path), "ibug68")
    if raw["ibug68"] is not None:
        value, file, key = raw["ibug68"]
        ibug_where = (file, key)
        if not isinstance(value, list) or not all(v is None or isinstance(v, str) for v in value):
            raise SpecError(file, key, "ibug68 must be a list of landmark or group names or GROUP@ANCHOR (null where none)")
        ibug = tuple(value)
    pairs = None
    pairs_where = (str(path), "flip_pairs")
    if raw["flip_pairs"] is not None:
        value, file, key = raw["flip_pairs"]
        pairs_where = (file, key)
        ok = isinstance(value, list) and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(g, str) for g in p) for p in value)
        if not ok:
            raise SpecError(file, key, "flip_pairs must be a list of [left_group, right_group] pairs")
        pairs = tuple((p[0], p[1]) for p in value)
    return SpecDefinition(name=raw["name"], description=raw["description"], file=str(path), groups=groups,
                          ibug68=ibug, ibug68_where=ibug_where, flip_pairs=pairs, flip_pairs_where=pairs_where)
