"""Random distributions written in scene-config YAML, and how to draw from them.

Accepted forms (``key:`` is any config key):

    key: 0.5                                # constant
    key: [lo, hi]                           # uniform on [lo, hi]
    key: {uniform: [lo, hi]}
    key: {normal: [mean, std], clip: [lo, hi]}   # clip is optional
    key: {beta: [a, b], range: [lo, hi]}          # range defaults to [0, 1]
    key: {choice: [a, b, c], p: [0.5, 0.3, 0.2]}  # p is optional (uniform)

Every number is finite. With a key's valid range (``generator/config.py``), everything a
distribution can draw lies inside it: a constant, both uniform ends, a normal's mean and clip
(a normal without clip is clipped to the range; its std is at most the range's width), a beta's
range, each choice. ``p`` is
non-negative and sums to 1 within ``P_SUM_TOLERANCE`` (then rescaled so numpy never refuses it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import math

import numpy as np

from facegen.errors import UserError
from facegen.user_input import Range, finite, printable

P_SUM_TOLERANCE = 1e-6  # choice: |sum(p) - 1| allowed in a config
P_RESCALE_ABOVE = 1e-9  # p summing further than this from 1 is rescaled (numpy's choice: sqrt(eps) = 1.5e-8)


class ConfigError(UserError):
    """A bad scene config (YAML file or mapping): the one-line message names the file and key."""

    def __init__(self, message: str):
        super().__init__(printable(message))  # a key may hold a newline: escaped, one line


@dataclass(frozen=True)
class Dist:
    """One scalar (or categorical) distribution."""

    kind: str  # constant | uniform | normal | beta | choice
    params: tuple  # constant: (value,); uniform: (lo, hi); normal: (mean, std); beta: (a, b); choice: values
    clip: tuple[float, float] | None = None  # normal: clip range; beta: output range
    p: tuple[float, ...] | None = None  # choice: probabilities

    def sample(self, rng: np.random.Generator):
        """One draw. Every kind consumes exactly one generator call, constants included, so that
        changing one distribution does not shift the draws of the others."""
        if self.kind == "constant":
            rng.random()
            return self.params[0]
        if self.kind == "uniform":
            return float(rng.uniform(*self.params))
        if self.kind == "normal":
            x = float(rng.normal(*self.params))
            return float(np.clip(x, *self.clip)) if self.clip else x
        if self.kind == "beta":
            lo, hi = self.clip or (0.0, 1.0)
            return float(lo + (hi - lo) * rng.beta(*self.params))
        # choice
        i = int(rng.choice(len(self.params), p=self.p))
        return self.params[i]

    def bounds(self) -> tuple[float, float]:
        """Smallest and largest value a numeric distribution can produce (normal: clip or +-inf)."""
        if self.kind == "constant":
            return (self.params[0], self.params[0])
        if self.kind == "uniform":
            return (min(self.params), max(self.params))
        if self.kind == "normal":
            return self.clip or (-np.inf, np.inf)
        if self.kind == "beta":
            return self.clip or (0.0, 1.0)
        return (min(self.params), max(self.params))


def _num(value: Any, where: str) -> float:
    x = finite(value)
    if x is None:
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return x


def _pair(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"{where}: expected a list of two numbers, got {value!r}")
    return (_num(value[0], where), _num(value[1], where))


def _inside(values, valid: Range | None, where: str, what: str) -> None:
    """``ConfigError`` unless every number of ``values`` lies in the key's valid range."""
    if valid is not None and not all(v in valid for v in values):
        raise ConfigError(f"{where}: {what} {_fmt(values)} is outside the key's valid range {valid}")


def _fmt(values) -> str:
    return f"{values[0]:g}" if len(values) == 1 else f"[{', '.join(f'{v:g}' for v in values)}]"


def parse_dist(value: Any, where: str, categorical: bool = False, valid: Range | None = None) -> Dist:
    """Parse one YAML distribution (module docstring); ``where`` names file and key for errors.
    A categorical key takes a string or a ``choice`` of strings; any other key takes finite
    numbers, and every number it can draw must lie in ``valid`` (the key's documented range): a
    normal without ``clip`` is clipped to it."""
    if categorical:
        if isinstance(value, str):
            return Dist("constant", (value,))
        if not (isinstance(value, dict) and set(value) <= {"choice", "p"} and "choice" in value):
            raise ConfigError(f"{where}: expected a name or {{choice: [names...], p: [...]}}, got {value!r}")
        return _choice(value, where, numeric=False)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        x = _num(value, where)
        _inside((x,), valid, where, "value")
        return Dist("constant", (x,))
    if isinstance(value, (list, tuple)):
        return _uniform(value, where, valid)
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a number, [lo, hi] or a mapping, got {value!r}")
    kinds = [k for k in ("uniform", "normal", "beta", "choice") if k in value]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: give exactly one of uniform, normal, beta, choice (got keys {sorted(map(str, value))})")
    kind = kinds[0]
    allowed = {"uniform": set(), "normal": {"clip"}, "beta": {"range"}, "choice": {"p"}}[kind]
    extra = set(value) - {kind} - allowed
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {sorted(map(str, extra))} for a {kind} distribution")
    if kind == "uniform":
        return _uniform(value["uniform"], f"{where}.uniform", valid)
    if kind == "normal":
        mean, std = _pair(value["normal"], f"{where}.normal")
        if std < 0:
            raise ConfigError(f"{where}.normal: standard deviation must be >= 0, got {std}")
        _inside((mean,), valid, f"{where}.normal", "mean")
        if valid is not None and std > valid.hi - valid.lo:
            raise ConfigError(f"{where}.normal: standard deviation {std:g} is wider than the key's valid range {valid}")
        clip = _pair(value["clip"], f"{where}.clip") if "clip" in value else None
        if clip and clip[0] > clip[1]:
            raise ConfigError(f"{where}.clip: [{clip[0]}, {clip[1]}] has lo > hi")
        if clip:
            _inside(clip, valid, f"{where}.clip", "clip")
        elif valid is not None:
            clip = (valid.lo, valid.hi)
        return Dist("normal", (mean, std), clip=clip)
    if kind == "beta":
        a, b = _pair(value["beta"], f"{where}.beta")
        if a <= 0 or b <= 0:
            raise ConfigError(f"{where}.beta: shape parameters must be > 0, got {a}, {b}")
        span = _pair(value["range"], f"{where}.range") if "range" in value else None
        if span and not span[0] < span[1]:
            raise ConfigError(f"{where}.range: [{span[0]}, {span[1]}] needs lo < hi")
        _inside(span or (0.0, 1.0), valid, f"{where}.range", "range" if span else "range (default)")
        return Dist("beta", (a, b), clip=span)
    dist = _choice(value, where, numeric=True)
    _inside(dist.params, valid, f"{where}.choice", "value")
    return dist


def _uniform(value: Any, where: str, valid: Range | None) -> Dist:
    lo, hi = _pair(value, where)
    if lo > hi:
        raise ConfigError(f"{where}: uniform range [{lo}, {hi}] has lo > hi")
    _inside((lo, hi), valid, where, "uniform range")
    return Dist("uniform", (lo, hi))


def _choice(value: dict, where: str, numeric: bool) -> Dist:
    values = value["choice"]
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}.choice: expected a non-empty list")
    if numeric:
        values = [_num(v, f"{where}.choice") for v in values]
    elif not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}.choice: expected names (strings), got {values}")
    p = None
    if "p" in value:
        if not isinstance(value["p"], list) or len(value["p"]) != len(values):
            raise ConfigError(f"{where}.p: expected {len(values)} probabilities")
        p = tuple(_num(x, f"{where}.p") for x in value["p"])
        total = math.fsum(p)
        if min(p) < 0 or abs(total - 1.0) > P_SUM_TOLERANCE:
            raise ConfigError(f"{where}.p: probabilities must be >= 0 and sum to 1 (within {P_SUM_TOLERANCE:g}), "
                              f"got {list(p)}")
        if abs(total - 1.0) > P_RESCALE_ABOVE:  # numpy's choice allows only sqrt(eps) = 1.5e-8
            p = tuple(x / total for x in p)
    return Dist("choice", tuple(values), p=p)
