"""Train the arms of an experiment, several seeds each, from one base config: one command.

Each arm is ``NAME:KEY=VALUE,...`` (dotted keys reach into sections: ``daln.weight=0.1``; values
are YAML). For every arm and seed this writes ``OUT/NAME_s<seed>.yaml`` (the base config, made
absolute, with the arm's keys, ``seed``, ``steps``, ``out_dir`` and, with ``--init``, ``init_from``)
and runs ``facegen train`` on it, one after the other (a finished run is skipped; an interrupted
one resumes from its checkpoint). Prints the ``bench/bench_transfer.py`` line that compares them.

    python bench/sweep.py --base trainer/recipe_cpu.yaml --init runs/recipe_cpu/last.pt --steps 150 \\
        --seeds 0 1 2 --out runs/sweep --set lr=0.0002,schedule=constant synthetic:mode=synthetic \\
        daln_w0.1_t1:mode=daln,daln.weight=0.1,daln.temperature=1.0
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

PATH_KEYS = ("out_dir", "init_from")
DATA_PATH_KEYS = ("synthetic", "real")


def arm_config(base: Path, arm: str, seed: int, steps: int, out: Path, init: str | None,
               common: str = "") -> tuple[str, dict]:
    """(name, config dict) of one arm and seed; relative paths of the base resolved against its
    folder; ``common`` (KEY=VALUE,...) applies to every arm, before the arm's own keys."""
    name, _, sets = arm.partition(":")
    sets = ",".join(filter(None, (common, sets)))
    cfg = yaml.safe_load(base.read_text())
    for key in PATH_KEYS:  # the written config lives in OUT: the base's own relative paths would move
        if cfg.get(key):
            cfg[key] = str((base.parent / cfg[key]).resolve())
    for key in DATA_PATH_KEYS:
        if cfg.get("data", {}).get(key):
            cfg["data"][key] = str((base.parent / cfg["data"][key]).resolve())
    for item in filter(None, sets.split(",")):
        key, _, value = item.partition("=")
        *parents, leaf = key.split(".")
        node = cfg
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
        if key in PATH_KEYS or (parents == ["data"] and leaf in DATA_PATH_KEYS):
            node[leaf] = str(Path(node[leaf]).resolve())
    cfg.update(seed=seed, steps=steps, out_dir=str((out / f"{name}_s{seed}").resolve()))
    if init:
        cfg["init_from"] = str(Path(init).resolve())
    return name, cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arms", nargs="+", help="NAME:KEY=VALUE,... (the first is the baseline)")
    ap.add_argument("--base", required=True, help="base train.yaml")
    ap.add_argument("--init", default=None, help="init_from checkpoint of every arm")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--set", default="", help="KEY=VALUE,... for every arm (e.g. lr=0.0002,data.cache=false)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = {}
    for arm in args.arms:
        for seed in args.seeds:
            name, cfg = arm_config(Path(args.base), arm, seed, args.steps, out, args.init, args.set)
            path = out / f"{name}_s{seed}.yaml"
            path.write_text(yaml.safe_dump(cfg, sort_keys=False))
            print(f"== {path}", flush=True)
            subprocess.run(["facegen", "train", "--config", str(path), "--quiet"], check=True)
            runs.setdefault(name, []).append(str(Path(cfg["out_dir"]) / "last.pt"))
    print("compare: python bench/bench_transfer.py --real REAL_FOLDER "
          + " ".join(f"{n}={','.join(p)}" for n, p in runs.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
