"""Training loop: four modes, checkpoints with resume, CSV (and TensorBoard) logs, progress bar.

Modes (``TrainConfig.mode``):
- ``synthetic``: heatmap regression on the synthetic shards only.
- ``synthetic+real``: plus a label-transfer U-Net (K dense -> 68 heatmaps) trained on labelled real
  images; its loss also fine-tunes the hourglass (after ``label_transfer.warmup_steps``).
- ``daln``: plus DALN on unlabelled real images (``daln.daln_loss`` on the last stack's features).
- ``discriminator``: plus a domain classifier on those features through a GRL, unlabelled real
  images (``discriminator.domain_loss``).
- ``real``: supervised real-only baseline, 68 heatmaps from the real labels.

CUDA with mixed precision when available; DDP when launched by ``torchrun`` (WORLD_SIZE > 1).
Checkpoints hold state dicts and plain metadata only (read back with ``weights_only=True``).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import time
from pathlib import Path

import torch

from facegen.generator.atomic_write import atomic_path

from facegen.landmark_specs.spec_file import MAX_LANDMARKS
from facegen.user_input import Range, field_range, finite, one_line

from facegen.loaders import FaceShards, RealFaces

from .augment import BatchAugment, LooseCrops
from .batches import Batches
from .config import ModelSection, TrainConfig, TrainerError
from .daln import daln_loss, grl_coefficient
from .discriminator import DomainClassifier, domain_loss
from .data import SAME_BOX, box_relation, make_codec
from .losses import heatmap_loss, learning_rate, visibility_loss
from .hourglass import HourglassConfig, StackedHourglass
from .label_transfer import IBUG_POINTS, LabelTransferUNet

LOG_FIELDS = ("step", "loss", "source_loss", "visibility_loss", "real_loss", "nwd", "domain_loss", "domain_accuracy",
              "grl_coeff", "lr", "seconds")


def save_checkpoint(path: Path, state: dict) -> None:
    """Atomic write (fsynced, renamed): a crash never leaves a half-written ``last.pt``."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """A checkpoint written by ``save_checkpoint`` (tensors and plain data only: ``weights_only``);
    ``TrainerError`` naming the file when it is not one."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise TrainerError(f"{path}: no such checkpoint") from None
    except Exception as exc:  # noqa: BLE001 - garbage makes the unpickler raise anything (IndexError, KeyError, ...)
        raise TrainerError(f"{path}: not a facegen checkpoint ({type(exc).__name__}: {one_line(str(exc), 200)})") from None
    if not isinstance(state, dict) or not {"meta", "model"} <= set(state):
        raise TrainerError(f"{path}: not a facegen checkpoint (no meta/model entries)")
    problem = _meta_problem(state)
    if problem:
        raise TrainerError(f"{path}: not a facegen checkpoint ({problem})")
    return state


def _meta_problem(state: dict) -> str | None:
    """Why a checkpoint's ``meta`` does not describe a model this code builds (every size inside
    the train config's ranges, so a crafted file cannot ask for a huge network), else None."""
    meta = state["meta"]
    if not isinstance(meta, dict) or not isinstance(state["model"], dict) or not isinstance(meta.get("hourglass"), dict):
        return "meta, meta.hourglass and model must be mappings"
    hg, fields = meta["hourglass"], {f.name: f for f in dataclasses.fields(ModelSection)}
    limits = [(f"hourglass.{k}", hg.get(k), field_range(fields[k])) for k in ("stacks", "channels", "depth", "input_size")]
    limits += [("hourglass.num_landmarks", hg.get("num_landmarks"), Range(1, MAX_LANDMARKS)),
               ("input_size", meta.get("input_size"), field_range(fields["input_size"])),
               ("label_transfer_channels", meta.get("label_transfer_channels", 0), Range(0, 512))]
    if set(hg) != {f.name for f in dataclasses.fields(HourglassConfig)}:
        return f"meta.hourglass has keys {sorted(map(str, hg))}"
    for key, value, valid in limits:
        if isinstance(value, bool) or not isinstance(value, int) or value not in valid:
            return f"meta.{key} {value!r} is not an integer in {valid}"
    relation = meta.get("box_from_ibug68", SAME_BOX)
    if (not isinstance(relation, (list, tuple)) or len(relation) != 3
            or any(finite(v) is None for v in relation) or not 0.1 <= relation[0] <= 10):
        return "meta.box_from_ibug68 must be [side ratio in 0.1..10, dx, dy], finite"
    sigma = finite(meta.get("sigma"))
    if sigma is None or sigma <= 0 or meta.get("num_landmarks") != hg["num_landmarks"]:
        return "meta.sigma or meta.num_landmarks missing or wrong"
    return None


def restore(module: torch.nn.Module, weights, path: str | Path) -> None:
    """``module.load_state_dict(weights)``; ``TrainerError`` naming ``path`` when they do not fit."""
    try:
        module.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError) as exc:  # missing/unexpected keys, shapes; not a mapping
        raise TrainerError(f"{path}: the weights do not fit the model its meta describes "
                           f"({one_line(str(exc), 200)})") from None


def init_model_from(model: StackedHourglass, meta: dict, state: dict, path: str | Path) -> list[str]:
    """Start ``model`` (described by ``meta``) from the checkpoint ``state``. The same architecture
    loads whole; one that differs only in its landmark count (a relabelled dataset, an edited spec)
    loads every tensor but the point-dependent ones (heatmap heads, the heatmap merge, visibility),
    which keep their fresh initialisation: their names are returned."""
    theirs, ours = dict(state["meta"]["hourglass"]), dict(meta["hourglass"])
    if {**theirs, "num_landmarks": 0} != {**ours, "num_landmarks": 0}:
        raise TrainerError(f"{path}: init_from checkpoint has another model ({theirs}, this run: {ours})")
    if theirs == ours:
        restore(model, state["model"], path)
        return []
    own = model.state_dict()
    fresh = [n for n, t in own.items() if n not in state["model"] or state["model"][n].shape != t.shape]
    restore(model, {**own, **{n: t for n, t in state["model"].items() if n in own and n not in fresh}}, path)
    return fresh


def build_model(meta: dict) -> tuple[StackedHourglass, LabelTransferUNet | None]:
    """The networks described by a checkpoint's ``meta``."""
    model = StackedHourglass(HourglassConfig(**meta["hourglass"]))
    lt = None
    if meta.get("label_transfer_channels"):
        lt = LabelTransferUNet(meta["num_landmarks"], IBUG_POINTS, meta["label_transfer_channels"])
    return model, lt


def _device(cfg: TrainConfig, local_rank: int) -> torch.device:
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def train(cfg: TrainConfig, ibug_index: list[int] | None = None, spec_source: str | None = None,
          quiet: bool = False) -> Path:
    """Run (or resume) training; returns the path of the last checkpoint."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    distributed = world > 1
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = _device(cfg, local_rank)
    if distributed:
        import torch.distributed as dist

        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    size = cfg.model.input_size
    codec = make_codec(size, cfg.data.sigma)

    strengths = cfg.augment if cfg.data.augment else cfg.augment.off()
    names = [f"ibug{i}" for i in range(IBUG_POINTS)]
    domains = []  # (dataset, flip_index) of the source, then the target domain
    if cfg.mode != "real":
        synth = FaceShards(cfg.data.synthetic, labels=cfg.data.labels)
        names = list(synth.landmark_names)
        domains.append((synth, synth.flip_index))
    if cfg.mode != "synthetic":
        real = RealFaces(cfg.data.real)
        domains.append((real, real.flip_index))
    if cfg.mode == "real":
        ibug_index = list(range(IBUG_POINTS))
    hg = HourglassConfig(num_landmarks=len(names), stacks=cfg.model.stacks, channels=cfg.model.channels,
                         depth=cfg.model.depth, input_size=size)
    meta = dict(hourglass=dataclasses.asdict(hg), num_landmarks=len(names), landmark_names=names,
                input_size=size, heatmap_size=size // 4, sigma=cfg.data.sigma, crop_margin=cfg.data.crop_margin,
                mode=cfg.mode, ibug_index=list(ibug_index) if ibug_index is not None else [],
                spec_source=spec_source or "", labels=cfg.data.labels or "",
                label_transfer_channels=cfg.label_transfer.channels if cfg.mode == "synthetic+real" else 0,
                box_from_ibug68=box_relation(synth.reader.labels(0)["landmarks"], ibug_index)
                if cfg.mode != "real" and ibug_index is not None and len(ibug_index) == IBUG_POINTS
                else list(SAME_BOX))
    model, lt = build_model(meta)
    model.to(device)
    params = list(model.parameters())
    if lt is not None:
        lt.to(device)
        params += list(lt.parameters())
    disc = None
    if cfg.mode == "discriminator":
        disc = DomainClassifier(cfg.model.channels, cfg.discriminator.channels).to(device)
        params += list(disc.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    ckpt_path, step = out / "last.pt", 0
    if cfg.resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path, map_location=device)
        if state["meta"]["num_landmarks"] != meta["num_landmarks"] or state["meta"]["mode"] != cfg.mode:
            raise TrainerError(f"{ckpt_path}: checkpoint of another run (mode/landmarks differ); use another out_dir")
        restore(model, state["model"], ckpt_path)
        if lt is not None:
            restore(lt, state.get("label_transfer"), ckpt_path)
        if disc is not None:
            restore(disc, state.get("discriminator"), ckpt_path)
        opt.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        step = int(state["step"])
    elif cfg.init_from:
        fresh = init_model_from(model, meta, load_checkpoint(cfg.init_from, map_location=device), cfg.init_from)
        if fresh and not quiet and rank == 0:
            print(f"init_from {cfg.init_from}: another point set; {len(fresh)} point-dependent tensors start "
                  f"fresh ({', '.join(sorted({n.split('.')[0] for n in fresh}))}), the rest is copied")
    streams = [Batches(LooseCrops(ds, size, cfg.data.crop_margin, cfg.data.room), cfg.batch_size, cfg.seed, d,
                       BatchAugment(size, strengths, flip), codec, device, cfg.data.cache, cfg.num_workers,
                       rank, world, step, quiet or rank != 0)
               for d, (ds, flip) in enumerate(domains)]
    source = streams[0] if cfg.mode != "real" else None
    target = streams[-1] if cfg.mode != "synthetic" else None
    net = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None)

    main_proc = rank == 0
    log_file = writer = tb = None
    if main_proc:
        new = not (out / "log.csv").exists() or step == 0
        log_file = open(out / "log.csv", "w" if new else "a", newline="")
        writer = csv.DictWriter(log_file, LOG_FIELDS)
        if new:
            writer.writeheader()
        try:
            from torch.utils.tensorboard import SummaryWriter
            tb = SummaryWriter(str(out / "tensorboard"))
        except ImportError:  # tensorboard is optional
            tb = None

    def checkpoint():
        if main_proc:
            save_checkpoint(ckpt_path, dict(model=model.state_dict(), label_transfer=lt.state_dict() if lt else {},
                                            discriminator=disc.state_dict() if disc else {},
                                            optimizer=opt.state_dict(), scaler=scaler.state_dict(), step=step,
                                            config=cfg.to_dict(), meta=meta))

    from tqdm import tqdm

    bar = tqdm(total=cfg.steps, initial=step, disable=quiet or not main_proc, desc=f"train {cfg.mode}", unit="step")
    t0 = time.time()
    model.train()
    for extra in (lt, disc):
        if extra is not None:
            extra.train()
    while step < cfg.steps:
        stats = dict(source_loss=0.0, visibility_loss=0.0, real_loss=0.0, nwd=0.0, domain_loss=0.0,
                     domain_accuracy=0.0, grl_coeff=0.0)
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, cfg.steps, cfg.lr, cfg.schedule, cfg.warmup_steps)
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
            loss = torch.zeros((), device=device)
            if source is not None:
                s = next(source)
                outs, feat_s = net(s["image"], return_features=True)
                supervised = s["labelled"] if cfg.data.hidden == "supervise" else s["visibility"]
                src = heatmap_loss(outs, s["heatmaps"], supervised, cfg.loss)
                vis_loss = visibility_loss(model.visibility_logits(feat_s, outs[-1]), s["visibility"], s["labelled"])
                loss = loss + src + cfg.visibility_weight * vis_loss
                stats.update(source_loss=float(src.detach()), visibility_loss=float(vis_loss.detach()))
            if target is not None:
                t = next(target)
                if cfg.mode == "daln":
                    _, feat_t = net(t["image"], return_features=True)
                    c = grl_coefficient(step, cfg.steps, cfg.daln.lo, cfg.daln.hi, cfg.daln.alpha)
                    transfer, nwd = daln_loss(model.task_head, feat_s, feat_t, c, cfg.daln.temperature)
                    loss = loss + cfg.daln.weight * transfer
                    stats.update(nwd=float(nwd), grl_coeff=c)
                elif cfg.mode == "discriminator":
                    _, feat_t = net(t["image"], return_features=True)
                    c = grl_coefficient(step, cfg.steps, cfg.daln.lo, cfg.daln.hi, cfg.daln.alpha)
                    dom, acc = domain_loss(disc, feat_s, feat_t, c)
                    loss = loss + cfg.discriminator.weight * dom
                    stats.update(domain_loss=float(dom.detach()), domain_accuracy=acc, grl_coeff=c)
                else:
                    outs_t = net(t["image"])
                    hm, lab = t["heatmaps"], t["labelled"]
                    if cfg.mode == "real":
                        real_loss = heatmap_loss(outs_t, hm, lab, cfg.loss)
                    else:  # synthetic+real: dense heatmaps -> U-Net -> 68 heatmaps vs the real labels
                        dense = outs_t[-1] if step >= cfg.label_transfer.warmup_steps else outs_t[-1].detach()
                        real_loss = cfg.label_transfer.weight * heatmap_loss([lt(dense)], hm, lab, cfg.loss)
                    loss = loss + real_loss
                    stats["real_loss"] = float(real_loss.detach())
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{float(loss.detach()):.4g}")
        if main_proc and (step % cfg.log_every == 0 or step == cfg.steps):
            row = dict(step=step, loss=float(loss.detach()), lr=opt.param_groups[0]["lr"], seconds=round(time.time() - t0, 2),
                       **stats)
            writer.writerow(row)
            log_file.flush()
            if tb is not None:
                for k, v in row.items():
                    if k != "step":
                        tb.add_scalar(k, v, step)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            checkpoint()
    bar.close()
    if main_proc:
        log_file.close()
        if tb is not None:
            tb.close()
    if step == 0 or not ckpt_path.exists():
        checkpoint()
    if distributed:
        import torch.distributed as dist

        dist.destroy_process_group()
    return ckpt_path
