"""Build ``assets/objects.npz``: everyday objects held in front of faces (occluders).

Source: Debian's ``sweethome3d-furniture`` package (1.8-1), its ``BlendSwap-CC-0.sh3f`` catalogue
(a zip of OBJ models, every one CC0; the catalogue names each model's creator). Each object keeps
its triangles and one sRGB colour per triangle (its material's diffuse colour ``Kd``; textures are
dropped), is centred on its bounding box, turned from the catalogue's y-up to z-up, and scaled so
that its largest side is the catalogue's (real size, cm).

    apt-get download sweethome3d-furniture && dpkg-deb -x sweethome3d-furniture_1.8-1_all.deb deb
    python assets/build_objects.py deb/usr/share/sweethome3d/furniture/BlendSwap-CC-0.sh3f
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np
from asset_manifest import save_asset  # assets/asset_manifest.py (this script's folder)

HERE = Path(__file__).resolve().parent
# facegen name -> the catalogue's name of the model
OBJECTS = {"phone": "Apple iPhone", "coffee_cup": "Coffee cup",
           "plastic_cup": "Plastic cup", "comb": "Comb", "marker": "Text marker", "headphones": "Headphones",
           "baby_bottle": "Baby bottle"}


def read_catalogue(z: zipfile.ZipFile) -> dict[str, dict[str, str]]:
    """Catalogue entries by name: model path, creator, width/depth/height (cm)."""
    props = {}
    for line in z.read("PluginFurnitureCatalog.properties").decode("utf-8", "replace").splitlines():
        if "#" in line.split("=", 1)[0] and "=" in line:
            key, value = line.split("=", 1)
            field, _, index = key.partition("#")
            props.setdefault(index, {})[field] = value.strip()
    return {p["name"]: p for p in props.values() if "name" in p and "model" in p}


def read_mtl(text: str) -> dict[str, tuple[float, float, float]]:
    colours, name = {}, None
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["newmtl"]:
            name = parts[1] if len(parts) > 1 else ""
            colours[name] = (0.6, 0.6, 0.6)
        elif parts[:1] == ["Kd"] and name is not None:
            colours[name] = tuple(float(x) for x in parts[1:4])
    return colours


def read_obj(text: str, colours: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (V, 3), triangles (T, 3) (polygons fanned) and per-triangle colours (T, 3)."""
    verts, tris, cols, colour = [], [], [], (0.6, 0.6, 0.6)
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            verts.append([float(x) for x in parts[1:4]])
        elif parts[0] == "usemtl":
            colour = colours.get(parts[1] if len(parts) > 1 else "", (0.6, 0.6, 0.6))
        elif parts[0] == "f":
            ids = [int(p.split("/")[0]) for p in parts[1:]]
            ids = [i - 1 if i > 0 else len(verts) + i for i in ids]
            for k in range(1, len(ids) - 1):
                tris.append((ids[0], ids[k], ids[k + 1]))
                cols.append(colour)
    return np.asarray(verts), np.asarray(tris, np.int64), np.asarray(cols)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sh3f", help="BlendSwap-CC-0.sh3f from Debian's sweethome3d-furniture")
    args = ap.parse_args()
    arrays, records = {}, {}
    with zipfile.ZipFile(args.sh3f) as z:
        catalogue = read_catalogue(z)
        for name, title in OBJECTS.items():
            entry = catalogue[title]
            model = entry["model"].lstrip("/")
            folder = model.rsplit("/", 1)[0]
            text = z.read(model).decode("utf-8", "replace")
            mtl = next((line.split(None, 1)[1].strip() for line in text.splitlines() if line.startswith("mtllib")), None)
            colours = read_mtl(z.read(f"{folder}/{mtl}").decode("utf-8", "replace")) if mtl else {}
            v, f, c = read_obj(text, colours)
            used, f = np.unique(f, return_inverse=True)
            v, f = v[used], f.reshape(-1, 3)
            v = np.column_stack([v[:, 0], -v[:, 2], v[:, 1]])  # y up -> z up
            v -= 0.5 * (v.min(0) + v.max(0))
            size_m = max(float(entry.get(k, 0) or 0) for k in ("width", "depth", "height")) / 100
            v *= size_m / (v.max(0) - v.min(0)).max()
            arrays[f"{name}_vertices"] = v.astype(np.float32)
            arrays[f"{name}_faces"] = f.astype(np.int32)
            arrays[f"{name}_colours"] = np.clip(c, 0, 1).astype(np.float32)
            licence = next((n for n in z.namelist() if n.startswith(folder + "/") and "LICENSE" in n.upper()), "")
            records[name] = {"catalogue_name": title, "creator": entry.get("creator", ""), "model": model,
                             "size_m": round(size_m, 4), "triangles": int(len(f)), "licence_file": licence}
    out = HERE / "objects.npz"
    size = save_asset(out, {"names": np.array(list(OBJECTS)), **arrays}, {
        "built_by": "assets/build_objects.py",
        "source": "Debian sweethome3d-furniture 1.8-1: BlendSwap-CC-0.sh3f (Blend Swap models, OBJ + MTL)",
        "licence": "CC0-1.0 (the catalogue's LICENSE.TXT and each model's Blend Swap licence file)",
        "objects": records,
    })
    counts = ", ".join(f"{k} {r['triangles']}" for k, r in records.items())
    print(f"wrote {out} ({size} bytes), triangles: {counts}")


if __name__ == "__main__":
    main()
