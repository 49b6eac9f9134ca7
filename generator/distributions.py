"""Random distributions written in scene-config YAML, and how to draw from them.

Accepted forms (``key:`` is any config key):

    key: 0.5                                # constant
    key: [lo, hi]                           # uniform on [lo, hi]
    key: {uniform: [lo, hi]}
    key: {normal: [mean, std], clip: [lo, hi]}   # clip is optional
    key: {beta: [a, b], range: [lo, hi]}          # range defaults to [0, 1]
    key: {choice: [a, b, c], p: [0.5, 0.3, 0.2]}  # p is optional (uniform)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from facegen.errors import UserError


class ConfigError(UserError):
    """A bad scene config (YAML file or mapping): the one-line message names the file and key."""


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
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _pair(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"{where}: expected a list of two numbers, got {value!r}")
    return (_num(value[0], where), _num(value[1], where))


def parse_dist(value: Any, where: str, categorical: bool = False) -> Dist:
    """Parse one YAML distribution (module docstring); ``where`` names file and key for errors.
    A categorical key takes a string or a ``choice`` of strings; any other key takes numbers."""
    if categorical:
        if isinstance(value, str):
            return Dist("constant", (value,))
        if not (isinstance(value, dict) and set(value) <= {"choice", "p"} and "choice" in value):
            raise ConfigError(f"{where}: expected a name or {{choice: [names...], p: [...]}}, got {value!r}")
        return _choice(value, where, numeric=False)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Dist("constant", (_num(value, where),))
    if isinstance(value, (list, tuple)):
        lo, hi = _pair(value, where)
        if lo > hi:
            raise ConfigError(f"{where}: uniform range [{lo}, {hi}] has lo > hi")
        return Dist("uniform", (lo, hi))
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a number, [lo, hi] or a mapping, got {value!r}")
    kinds = [k for k in ("uniform", "normal", "beta", "choice") if k in value]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: give exactly one of uniform, normal, beta, choice (got keys {sorted(value)})")
    kind = kinds[0]
    allowed = {"uniform": set(), "normal": {"clip"}, "beta": {"range"}, "choice": {"p"}}[kind]
    extra = set(value) - {kind} - allowed
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {sorted(extra)} for a {kind} distribution")
    if kind == "uniform":
        lo, hi = _pair(value["uniform"], f"{where}.uniform")
        if lo > hi:
            raise ConfigError(f"{where}.uniform: range [{lo}, {hi}] has lo > hi")
        return Dist("uniform", (lo, hi))
    if kind == "normal":
        mean, std = _pair(value["normal"], f"{where}.normal")
        if std < 0:
            raise ConfigError(f"{where}.normal: standard deviation must be >= 0, got {std}")
        clip = _pair(value["clip"], f"{where}.clip") if "clip" in value else None
        if clip and clip[0] > clip[1]:
            raise ConfigError(f"{where}.clip: [{clip[0]}, {clip[1]}] has lo > hi")
        return Dist("normal", (mean, std), clip=clip)
    if kind == "beta":
        a, b = _pair(value["beta"], f"{where}.beta")
        if a <= 0 or b <= 0:
            raise ConfigError(f"{where}.beta: shape parameters must be > 0, got {a}, {b}")
        rng_ = _pair(value["range"], f"{where}.range") if "range" in value else None
        return Dist("beta", (a, b), clip=rng_)
    return _choice(value, where, numeric=True)


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
        if min(p) < 0 or abs(sum(p) - 1.0) > 1e-6:
            raise ConfigError(f"{where}.p: probabilities must be >= 0 and sum to 1, got {list(p)}")
    return Dist("choice", tuple(values), p=p)
