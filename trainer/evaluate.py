"""NME evaluation on real 300-W style folders (and optionally a synthetic test set).

Two protocols of the motivating study, both reported with inter-pupil and inter-ocular
normalisation (``metrics.py``):
(a) ``ibug points``: the predicted dense points standing for the iBUG points (``meta["ibug_index"]``:
    the spec's declared ``ibug68`` points, exact for the shipped dense specs; nearest on the
    template for a spec that declares none; ``trainer/EXPERIMENT.md`` runs before issue 17 called
    it ``nearest``);
(b) ``mlp``: a small MLP maps all predicted dense points to 68, fitted on a training split of real
    labelled images and then frozen (``fit_mapping``); it refines protocol (a) residually.
A checkpoint with a label-transfer U-Net also gets a ``label transfer`` row.

NME is computed in the coordinates of the crop fed to the model: a similarity of the image, so the
normalised error equals the one in original pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import TrainerError
from .data import decode, make_codec, open_real, open_synthetic
from .metrics import NORMALISATIONS, nme
from .train import build_model, load_checkpoint, restore

SUBSET_GROUPS = {"common": ("lfpw", "helen"), "challenging": ("ibug",)}  # 300-W test subsets by folder name
PRIVATE_GROUPS = {"indoor": ("01_indoor",), "outdoor": ("02_outdoor",)}  # the 300-W private test set (600 images)


def load_model(path: str | Path, device="cpu"):
    """``(model, label_transfer or None, meta)`` from a checkpoint, in eval mode."""
    state = load_checkpoint(path, map_location=device)
    meta = state["meta"]
    model, lt = build_model(meta)
    restore(model, state["model"], path)
    model.to(device).eval()
    if lt is not None:
        restore(lt, state.get("label_transfer"), path)
        lt.to(device).eval()
    return model, lt, meta


def ibug_index(checkpoint: str | Path, meta: dict) -> list[int]:
    """``(68,)`` landmark index per iBUG point stored in a checkpoint's ``meta`` (train time)."""
    index = [int(i) for i in meta.get("ibug_index", ())]
    if len(index) != 68:
        raise TrainerError(f"{checkpoint}: the checkpoint stores no iBUG-68 map ({len(index)} entries); "
                           "retrain it with this facegen")
    return index


@torch.no_grad()
def predict_dataset(model, lt, meta, dataset, batch_size: int = 16, device="cpu", method: str = "parabola") -> dict:
    """Run the model over ``dataset``: ``dense`` (N, K, 2), ``gt`` (N, K', 2) crop pixels (NaN where
    unlabelled or hidden), ``gt_all`` (N, K', 2) (hidden points too), ``visible`` (N, K') bool,
    ``visibility`` (N, K) predicted probability that a point is visible, ``pose`` (N, 3) yaw, pitch,
    roll (NaN when unknown), ``lt68`` (N, 68, 2) or None, ``paths`` (N,) str. ``method``: heatmap
    decoding (``HeatmapCodec.decode``)."""
    codec = make_codec(meta["input_size"], meta["sigma"])
    out = {k: [] for k in ("dense", "gt", "gt_all", "visible", "visibility", "pose", "lt68", "paths")}
    for i in range(0, len(dataset), batch_size):
        items = [dataset[j] for j in range(i, min(i + batch_size, len(dataset)))]
        x = torch.stack([it["image"] for it in items]).to(device)
        heats, feat = model(x, return_features=True)
        out["dense"].append(decode(codec, heats[-1], method)[0])
        out["visibility"].append(torch.sigmoid(model.visibility_logits(feat, heats[-1])).cpu().numpy())
        if lt is not None:
            out["lt68"].append(decode(codec, lt(heats[-1]), method)[0])
        for it in items:
            lm = np.asarray(it["landmarks"], np.float32)
            vis = np.asarray(it["visibility"]) > 0
            out["gt_all"].append(lm)
            out["gt"].append(np.where(vis[:, None], lm, np.nan))
            out["visible"].append(vis)
            out["pose"].append(np.asarray(it.get("pose", np.full(3, np.nan)), np.float32))
            out["paths"].append(str(it.get("meta", {}).get("path", it.get("meta", {}).get("index", ""))))
    res = {k: np.concatenate(out[k]) if out[k] else None for k in ("dense", "visibility", "lt68")}
    res.update({k: np.stack(out[k]) for k in ("gt", "gt_all", "visible", "pose")}, paths=np.array(out["paths"]))
    return res


class DenseTo68(nn.Module):
    """Protocol (b): ``(N, K, 2)`` dense points / input size -> ``(N, 68, 2)``, residual on protocol (a)."""

    def __init__(self, ibug_index: list[int], num_landmarks: int, hidden: int = 256):
        super().__init__()
        self.register_buffer("index", torch.as_tensor(ibug_index, dtype=torch.long))
        self.net = nn.Sequential(nn.Linear(2 * num_landmarks, hidden), nn.ReLU(), nn.Linear(hidden, 136))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, dense):
        return dense[:, self.index] + self.net(dense.flatten(1)).view(-1, 68, 2)


def fit_mapping(dense: np.ndarray, gt68: np.ndarray, ibug_index: list[int], input_size: int, seed: int = 0,
                iters: int = 300) -> DenseTo68:
    """Fit protocol (b)'s MLP on (N, K, 2) predictions and (N, 68, 2) labels (NaN ignored); frozen."""
    torch.manual_seed(seed)
    mlp = DenseTo68(ibug_index, dense.shape[1])
    x = torch.as_tensor(dense / input_size, dtype=torch.float32)
    y = torch.as_tensor(np.nan_to_num(gt68 / input_size), dtype=torch.float32)
    mask = torch.as_tensor(np.isfinite(gt68).all(-1), dtype=torch.float32)[..., None]
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-3, weight_decay=1e-4)
    for _ in range(iters):
        loss = (((mlp(x) - y) ** 2) * mask).sum() / mask.sum().clamp_min(1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    mlp.eval().requires_grad_(False)
    return mlp


def subset_of(path: str, root: str) -> str:
    """The first folder under ``root`` holding the image (the folder's own name when flat)."""
    try:
        rel = Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return Path(root).name
    return rel.parts[0].lower() if len(rel.parts) > 1 else Path(root).resolve().name


def subset_masks(paths: np.ndarray, root: str) -> dict[str, np.ndarray]:
    """Named boolean masks: 300-W ``common`` / ``challenging`` / ``full`` (lfpw, helen / ibug folders)
    and the 300-W private test set's ``indoor`` / ``outdoor`` / ``private`` (01_Indoor, 02_Outdoor)
    when present, then every other folder by its name."""
    names = np.array([subset_of(p, root) for p in paths])
    masks = {}
    for groups, union in ((SUBSET_GROUPS, "full"), (PRIVATE_GROUPS, "private")):
        found = {}
        for group, members in groups.items():
            m = np.isin(names, members) | (names == group)
            if m.any():
                found[group] = m
        if found:
            masks.update(found)
            masks[union] = np.logical_or.reduce(list(found.values()))
    known = {n for groups in (SUBSET_GROUPS, PRIVATE_GROUPS) for g, ms in groups.items() for n in (g, *ms)}
    for n in sorted(set(names) - known):
        masks[n] = names == n
    return masks


def split_fit(n: int, masks: dict[str, np.ndarray], seed: int) -> np.ndarray:
    """Boolean (N,) fit split: a seeded half of every subset (at least one image, never all)."""
    rng = np.random.default_rng(seed)
    fit = np.zeros(n, bool)
    for m in masks.values():
        idx = np.flatnonzero(m & ~fit)
        if len(idx) >= 2:
            fit[rng.choice(idx, size=max(1, len(idx) // 2), replace=False)] = True
    return fit


def evaluate(checkpoint: str, data: str, synthetic: str | None = None, fit_data: str | None = None,
             seed: int = 0, device: str = "cpu") -> tuple[list[str], list[list[str]], list[str]]:
    """Returns ``(header, rows, notes)`` of the NME table (NME x 100)."""
    model, lt, meta = load_model(checkpoint, device)
    index = ibug_index(checkpoint, meta)
    size = meta["input_size"]
    real = predict_dataset(model, lt, meta, open_real(data, size, meta.get("crop_margin", 1.25)), device=device)
    if real["gt"].shape[1] != 68:
        raise TrainerError(f"{data}: expected 68 iBUG labels, got {real['gt'].shape[1]}")
    masks = subset_masks(real["paths"], data)
    notes = []
    if fit_data:
        fit = predict_dataset(model, lt, meta, open_real(fit_data, size, meta.get("crop_margin", 1.25)), device=device)
        mlp = fit_mapping(fit["dense"], fit["gt"], index, size, seed)
        test = np.ones(len(real["paths"]), bool)
    else:
        fit_mask = split_fit(len(real["paths"]), masks, seed)
        mlp = fit_mapping(real["dense"][fit_mask], real["gt"][fit_mask], index, size, seed)
        test = ~fit_mask
        notes.append(f"protocol (b) MLP fitted on {fit_mask.sum()} images of {data} (seeded half split); "
                     f"all rows are scored on the other {test.sum()}")
    with torch.no_grad():
        mlp68 = mlp(torch.as_tensor(real["dense"] / size, dtype=torch.float32)).numpy() * size
    preds = {"(a) ibug points": real["dense"][:, index], "(b) mlp": mlp68}
    if real["lt68"] is not None:
        preds["label transfer"] = real["lt68"]

    synth_nme = {}
    if synthetic:
        ds = open_synthetic(synthetic, meta.get("labels") or None, size, meta.get("crop_margin", 1.25))
        syn = predict_dataset(model, None, meta, ds, device=device)
        for kind in NORMALISATIONS:
            synth_nme[kind] = nme(syn["dense"][:, index], syn["gt"][:, index], kind)
    subsets = list(masks)
    header = ["model", "protocol", "norm", "synthetic test"] + subsets
    name = Path(checkpoint).parent.name + "/" + Path(checkpoint).name
    rows = []
    for proto, pred in preds.items():
        for kind in NORMALISATIONS:
            syn_cell = f"{synth_nme[kind]:.2f}" if kind in synth_nme and proto == "(a) ibug points" else "-"
            cells = []
            for s in subsets:
                m = masks[s] & test
                cells.append(f"{nme(pred[m], real['gt'][m], kind):.2f}" if m.any() else "-")
            rows.append([name, proto, "IPD" if kind == "inter_pupil" else "IOD", syn_cell] + cells)
    if int(test.sum()) < 100:
        notes.append(f"only {int(test.sum())} real test images: far too few for accuracy claims")
    return header, rows, notes


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: " | ".join(c.ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), "-+-".join("-" * w for w in widths)] + [line(r) for r in rows])
