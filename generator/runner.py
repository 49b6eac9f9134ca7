"""Running a dataset plan: folder checks, resume, the local process pool and the Ray executor.

Each shard is a pure function of (plan, shard range), so any executor, worker count or shard size
yields the same samples. The manifest is rewritten (atomically) after every finished shard;
finished shard files are skipped on a rerun. A worker process that dies (a renderer segfault) is
replaced and its shard retried up to ``retries`` times; what still fails is reported at the end.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import shutil
import signal
import sys
import traceback
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import h5py

from facegen.generator import shard_format as sf
from facegen.errors import UserError
from facegen.generator.dataset_card import is_card, plan_command, write_card
from facegen.generator.dataset_lock import LOCK_NAME, writer_lock
from facegen.generator.writer import DatasetPlan, ShardTask, WorkerContext, generator_version, write_shard

# Tests only: "crash-once:<shard>:<marker file>" or "crash-always:<shard>" SIGKILLs the worker on that shard.
FAULT_ENV = "FACEGEN_FAULT_INJECT"


@dataclass(frozen=True)
class RunReport:
    """Outcome of ``run``."""

    rendered: tuple[sf.ShardEntry, ...]  # shards written by this run
    skipped: int  # finished shards found and kept (resume)
    failures: tuple[tuple[int, str], ...] = field(default=())  # (shard index, last error) after all retries


def _describe(m: sf.Manifest) -> str:
    return (f"spec {m.spec.name} ({m.spec.hash}), seed {m.seed}, renderer {m.renderer}, resolution {m.resolution}, "
            f"key {m.dataset_key}")


def _clear(out: Path) -> None:
    """Remove a dataset's files (manifest, card, shards, label sets, temporaries) from ``out``."""
    for p in out.iterdir():
        if p.name == sf.MANIFEST_NAME or p.name.startswith("shard-") or sf.TMP_SUFFIX in p.name or is_card(p):
            p.unlink()
        elif p.name == sf.LABELS_DIR and p.is_dir():
            shutil.rmtree(p)


def manifest_for(plan: DatasetPlan, results: dict[int, sf.ShardEntry], failures=()) -> sf.Manifest:
    """The manifest of ``plan`` with the finished shards ``results`` (shard index -> entry). Built
    from the plan alone: the spec texts are the ones read when the plan was made."""
    shards = tuple(results[k] for k in sorted(results))
    done = sum(r.count for r in shards)
    render_set = sf.LabelSetEntry(plan.spec_name, sf.SHARD_LOCATION, plan.spec_name, plan.spec_hash, plan.spec_source,
                                  tuple(plan.ibug68), num_landmarks=plan.spec.n_landmarks if plan.spec else 0)
    return sf.Manifest(schema_version=sf.SCHEMA_VERSION, generator_version=generator_version(), dataset_key=plan.key(),
                       seed=plan.seed, num=plan.num, shard_size=plan.shard_size, resolution=plan.resolution,
                       renderer=plan.renderer, renderer_settings=plan.renderer_settings, config=plan.config,
                       segmentation=plan.segmentation, image_compression=plan.image_compression,
                       spec=sf.SpecRecord(plan.spec_name, plan.spec_hash, plan.spec_source, dict(plan.spec_texts)),
                       complete=done == plan.num and len(shards) == len(plan.shards()), samples_done=done,
                       shards=shards, failures=tuple(failures), label_sets={plan.spec_name: render_set},
                       command=plan_command(plan))


def _out_folder(plan: DatasetPlan) -> Path:
    """``plan.out_dir``, made if missing (``UserError`` when it is a file)."""
    out = Path(plan.out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def prepare_folder(plan: DatasetPlan, overwrite: bool) -> dict[int, sf.ShardEntry]:
    """Check ``plan.out_dir`` and return its finished shards that belong to ``plan`` (to skip).
    Refuses (UserError) a folder holding another dataset or other files, unless ``overwrite``."""
    out = _out_folder(plan)
    if overwrite:
        _clear(out)
    for p in out.glob(f"*{sf.TMP_SUFFIX}-*"):  # leftovers of a killed run: never valid
        p.unlink()
    wanted = {t.shard_index: t for t in plan.shards()}
    done: dict[int, sf.ShardEntry] = {}
    if (out / sf.MANIFEST_NAME).exists():
        try:
            m = sf.read_manifest(out)
        except sf.DatasetError as exc:
            raise sf.DatasetError(f"{exc}; use --overwrite to replace it") from None
        if m.dataset_key != plan.key():
            raise UserError(f"--out {out} holds another dataset ({_describe(m)}); this run would write "
                            f"spec {plan.spec_name} ({plan.spec_hash}), seed {plan.seed}, renderer {plan.renderer}, "
                            f"resolution {plan.resolution}, key {plan.key()}: use --overwrite or another --out")
        if m.shard_size != plan.shard_size:
            raise UserError(f"--out {out} was written with --shard-size {m.shard_size}; rerun with it "
                            f"(samples do not depend on it) or use --overwrite")
        for r in m.shards:
            t = wanted.get(r.shard_index)
            if t and (t.first_index, t.count) == (r.first_index, r.count) and (out / r.file).exists():
                done[t.shard_index] = r
    else:
        others = [p.name for p in out.iterdir() if not p.name.startswith("shard-") and not is_card(p)
                  and p.name != LOCK_NAME]
        if others:
            raise UserError(f"--out {out} is not empty and holds no facegen manifest ({others[0]}, ...): "
                            f"use --overwrite or another --out")
    for k, t in wanted.items():  # finished (renamed) shards the manifest missed: killed before it was written
        p = out / t.file
        if k in done or not p.exists():
            continue
        try:
            with h5py.File(p, "r") as f:
                a = dict(f.attrs)
        except OSError:
            raise UserError(f"{p}: unreadable shard; use --overwrite") from None
        if a.get("dataset_key") != plan.key():
            raise UserError(f"{p}: belongs to another dataset (key {a.get('dataset_key')}); use --overwrite")
        if (int(a["first_index"]), int(a["count"])) == (t.first_index, t.count):
            done[k] = sf.ShardEntry(t.file, k, t.first_index, t.count, sf.sha256_file(p), p.stat().st_size)
    return done


def _maybe_inject_fault(task: ShardTask) -> None:
    spec = os.environ.get(FAULT_ENV, "")
    if spec.startswith("crash-once:"):
        _, shard, marker = spec.split(":", 2)
        if int(shard) == task.shard_index and not os.path.exists(marker):
            Path(marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
    if spec.startswith("crash-always:") and int(spec.split(":")[1]) == task.shard_index:
        os.kill(os.getpid(), signal.SIGKILL)


def _worker_main(plan: DatasetPlan, conn) -> None:
    """A local worker: one WorkerContext (one renderer) for all the shards it is sent."""
    ctx = None
    try:
        while True:
            task = conn.recv()
            if task is None:
                break
            try:
                if ctx is None:
                    ctx = WorkerContext(plan)
                _maybe_inject_fault(task)
                conn.send(("done", write_shard(task, ctx, progress=lambda k: conn.send(("progress", k)))))
            except UserError as exc:
                conn.send(("fatal", str(exc)))
                break
            except Exception:
                conn.send(("error", traceback.format_exc(limit=4).strip().splitlines()[-1]))
    finally:
        if ctx is not None:
            ctx.close()


# Thread pools a worker would otherwise size to the whole machine: Mesa's llvmpipe (raster),
# OpenMP and OpenBLAS. K workers on C cores get C // K threads each, unless the user set them.
_THREAD_VARS = ("LP_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def thread_share(workers: int):
    """While open, processes started (spawned children copy the environment when they start) get
    cores // ``workers`` threads each, so K workers do not oversubscribe the cores."""
    share = str(max(1, (os.cpu_count() or 1) // max(workers, 1)))
    env = {v: share for v in _THREAD_VARS if v not in os.environ}
    os.environ.update(env)
    try:
        yield
    finally:
        for var in env:
            os.environ.pop(var, None)


def _run_local(plan, tasks, workers, retries, on_done, on_progress) -> list[tuple[int, str]]:
    ctx = mp.get_context("spawn")
    share = min(workers, len(tasks))
    pending, attempts, failures = deque(tasks), {}, []
    slots: list[dict] = []

    def start():
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_worker_main, args=(plan, child), daemon=True)
        with thread_share(share):
            p.start()
        child.close()
        return dict(proc=p, conn=parent, task=None)

    def fail(task, why):
        attempts[task.shard_index] = attempts.get(task.shard_index, 0) + 1
        if attempts[task.shard_index] <= retries:
            print(f"facegen: shard {task.shard_index}: {why}; retrying", file=sys.stderr)
            pending.append(task)
        else:
            failures.append((task.shard_index, why))

    slots = [start() for _ in range(min(workers, len(tasks)))]
    try:
        while pending or any(s["task"] for s in slots):
            for s in slots:
                if s["task"] is None and pending:
                    s["task"] = pending.popleft()
                    s["conn"].send(s["task"])
            wait([s["conn"] for s in slots] + [s["proc"].sentinel for s in slots])
            for i, s in enumerate(slots):
                while True:
                    try:
                        if not s["conn"].poll():
                            break
                        kind, value = s["conn"].recv()
                    except (EOFError, OSError):
                        break
                    if kind == "progress":
                        on_progress(value)
                    elif kind == "done":
                        on_done(value)
                        s["task"] = None
                    elif kind == "error":
                        fail(s["task"], value)
                        s["task"] = None
                    elif kind == "fatal":
                        raise UserError(value)
                if not s["proc"].is_alive():
                    s["proc"].join()
                    if s["task"] is not None:
                        code = s["proc"].exitcode
                        why = f"worker died ({'signal ' + str(-code) if code < 0 else 'exit ' + str(code)})"
                        fail(s["task"], why)
                    slots[i] = start()
    finally:
        for s in slots:
            try:
                s["conn"].send(None)
            except (OSError, BrokenPipeError):
                pass
        for s in slots:
            s["proc"].join(timeout=30)
            if s["proc"].is_alive():
                s["proc"].kill()
    return failures


def _ray_shard(task: ShardTask) -> sf.ShardEntry:
    """One Ray task: its own renderer (one process per task, ``max_calls=1``)."""
    ctx = WorkerContext(task.plan)
    try:
        return write_shard(task, ctx)
    finally:
        ctx.close()


def _run_ray(tasks, retries, address, gpus_per_task, on_done, on_progress) -> list[tuple[int, str]]:
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray: ray is not installed; pip install 'facegen[cluster]'") from None
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    remote = ray.remote(max_calls=1, max_retries=retries, num_gpus=gpus_per_task)(_ray_shard)
    refs = {remote.remote(t): t for t in tasks}
    failures = []
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1)
        task = refs.pop(ready[0])
        try:
            r = ray.get(ready[0])
        except Exception as exc:  # task error or worker death after max_retries
            failures.append((task.shard_index, " ".join(str(exc).split())[-300:]))
            continue
        on_progress(r.count)
        on_done(r)
    return failures


def run(plan: DatasetPlan, executor: str = "local", workers: int = 1, retries: int = 2, overwrite: bool = False,
        ray_address: str | None = None, gpus_per_task: float = 0, progress: bool = True) -> RunReport:
    """Render the shards of ``plan`` that are not finished yet, holding the folder's writer lock
    (``dataset_lock``: a second render or relabel into it is refused); see the module docstring."""
    with writer_lock(_out_folder(plan), "render"):
        return _run(plan, executor, workers, retries, overwrite, ray_address, gpus_per_task, progress)


def _run(plan, executor, workers, retries, overwrite, ray_address, gpus_per_task, progress) -> RunReport:
    from tqdm import tqdm
    done = prepare_folder(plan, overwrite)
    out = Path(plan.out_dir)
    tasks = [t for t in plan.shards() if t.shard_index not in done]
    sf.write_manifest(out, manifest_for(plan, done))
    rendered = []
    bar = tqdm(total=sum(t.count for t in tasks), unit="img", file=sys.stderr, disable=not progress,
               desc=f"render {plan.renderer}", dynamic_ncols=True)

    def on_done(r: sf.ShardEntry):
        rendered.append(r)
        done[r.shard_index] = r
        sf.write_manifest(out, manifest_for(plan, done))

    try:
        if executor == "local":
            failures = _run_local(plan, tasks, workers, retries, on_done, bar.update) if tasks else []
        elif executor == "ray":
            failures = _run_ray(tasks, retries, ray_address, gpus_per_task, on_done, bar.update) if tasks else []
        else:
            raise UserError(f"--executor {executor}: unknown (local, ray)")
    finally:
        bar.close()
    final = manifest_for(plan, done, failures)
    sf.write_manifest(out, final)
    write_card(out, final)  # README.md: the dataset card (generator/dataset_card.py)
    return RunReport(tuple(rendered), len(plan.shards()) - len(tasks), tuple(failures))
