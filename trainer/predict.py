"""``facegen predict``: find the faces in whole photos, predict their landmarks, save and draw them.

Per face: a crop around the face (from a detector box, ``detect.py``, or a box the caller gives)
goes through the model; a second crop around the first answer's landmark box (the training
convention: centred on it, ``crop_margin`` x its longer side) gives the result. Points are mapped
back to image pixels.

Without a checkpoint it uses the shipped model, ``assets/landmark_model.pt`` (490 points, trained
only on facegen renders; ``assets/LANDMARK_MODEL.md``). From Python::

    faces = predict_faces(image)     # (H, W, 3) uint8 RGB; optional boxes=[(x0, y0, x1, y1)]
    p = Predictor()                  # or Predictor("runs/x/last.pt"): reuse it for many images
    for face in p(image):
        face["box"], face["points"], face["visibility"], face["ibug68"], face["ibug68_visibility"]
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from facegen.user_input import one_line

from .config import TrainerError
from .data import SAME_BOX, decode, eval_crop, make_codec, model_box, write_pts
from .detect import detect_faces, hog_detector, landmark_box_from_detection
from .evaluate import load_model


SHIPPED_MODEL = "landmark_model.pt"  # in the facegen.assets package (assets/build_landmark_model.py)


def shipped_model() -> Path:
    """Path of the landmark model that ships with facegen."""
    return Path(str(resources.files("facegen.assets").joinpath(SHIPPED_MODEL)))


class Predictor:
    """A trained checkpoint (default: the shipped model) ready to predict faces in whole images
    (see the module docstring)."""

    def __init__(self, checkpoint: str | Path | None = None, device: str = "cpu"):
        self.model, _, self.meta = load_model(checkpoint or shipped_model(), device)
        self.device = device
        size = self.meta["input_size"]
        self.codec = make_codec(size, self.meta["sigma"])
        self.crop = eval_crop(size, self.meta.get("crop_margin", 1.25))
        index = [int(i) for i in self.meta.get("ibug_index", ())]
        self.ibug_index = index if len(index) == 68 else None
        self.box_relation = self.meta.get("box_from_ibug68", SAME_BOX)  # see data.box_relation
        self._detector = None

    def detect(self, image: np.ndarray) -> np.ndarray:
        """``(F, 4)`` face boxes of dlib's HOG detector, largest first."""
        if self._detector is None:
            self._detector = hog_detector()
        return detect_faces(image, self._detector)

    @torch.no_grad()
    def _run(self, image: np.ndarray, landmark_box) -> tuple[np.ndarray, np.ndarray]:
        """Points (K, 2) in image pixels and visibility probabilities (K,) from the crop around a
        68-point box estimate (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = landmark_box
        item = dict(image=image, landmarks=np.array([[x0, y0], [x1, y1]], np.float32), box=np.array(landmark_box),
                    visibility=np.ones(2, np.float32), pupils=np.full((2, 2), np.nan, np.float32))
        out = self.crop(item, np.random.default_rng(0))
        x = torch.from_numpy(np.array(out["image"], np.uint8)).permute(2, 0, 1).float()[None] / 255
        heats, feat = self.model(x.to(self.device), return_features=True)
        pts = decode(self.codec, heats[-1])[0][0]
        vis = torch.sigmoid(self.model.visibility_logits(feat, heats[-1]))[0].cpu().numpy()
        affine = np.asarray(out["affine"], np.float64)
        return (pts - affine[:, 2]) @ np.linalg.inv(affine[:, :2]).T, vis

    def __call__(self, image: np.ndarray, boxes=None) -> list[dict]:
        """``(H, W, 3)`` uint8 RGB -> per face: ``box`` (4,) (detector or given), ``points`` (K, 2)
        image pixels, ``visibility`` (K,) probability that each point is visible, ``ibug68`` (68, 2)
        and ``ibug68_visibility`` (68,) (the spec's iBUG points; None for a spec without them). ``boxes``: faces to use instead of
        the detector's (treated like detector boxes: the second crop makes the exact box convention
        matter little)."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        image = np.ascontiguousarray(image)
        boxes = self.detect(image) if boxes is None else np.asarray(boxes, np.float64).reshape(-1, 4)
        faces = []
        for box in boxes:
            pts, _ = self._run(image, model_box(landmark_box_from_detection(box), self.box_relation))
            lo, hi = np.nanmin(pts, 0), np.nanmax(pts, 0)
            pts, vis = self._run(image, np.concatenate([lo, hi]))  # again, from its own landmark box
            ib = self.ibug_index
            faces.append(dict(box=box, points=pts.astype(np.float32), visibility=vis.astype(np.float32),
                              ibug68=None if ib is None else pts[ib].astype(np.float32),
                              ibug68_visibility=None if ib is None else vis[ib].astype(np.float32)))
        return faces


def predict_faces(image: np.ndarray, boxes=None, checkpoint: str | Path | None = None) -> list[dict]:
    """One call: the faces of an ``(H, W, 3)`` uint8 RGB image, each a dict of ``box``, ``points``
    ``(K, 2)``, ``visibility`` ``(K,)``, ``ibug68`` ``(68, 2)`` and ``ibug68_visibility`` (see
    ``Predictor.__call__``), from the shipped model unless ``checkpoint`` is given. Loads the
    model on each call (about 0.1 s): keep a ``Predictor`` for many images."""
    return Predictor(checkpoint)(image, boxes)


def parse_box(text: str) -> np.ndarray:
    """``"X0,Y0,X1,Y1"`` -> (4,) float64; ValueError with the reason otherwise."""
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError(f"expected X0,Y0,X1,Y1, got {text!r}")
    box = np.array([float(p) for p in parts])
    if not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"expected finite X0 < X1 and Y0 < Y1, got {text!r}")
    return box


def draw_faces(img, faces: list[dict], ibug68: bool = False):
    """PIL image with each face's box (blue) and points (green visible, red hidden): all K, or the
    68 iBUG points (``ibug68``; all K for a model without them)."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    r = max(1.0, min(img.size) / 200)
    for face in faces:
        draw.rectangle(tuple(float(v) for v in face["box"]), outline=(0, 128, 255), width=max(1, int(r)))
        key = "ibug68" if ibug68 and face.get("ibug68") is not None else "points"
        vis_key = "ibug68_visibility" if key == "ibug68" else "visibility"
        for (px, py), v in zip(face[key], face[vis_key]):
            draw.ellipse((px - r, py - r, px + r, py + r), fill=(0, 255, 0) if v >= 0.5 else (255, 48, 48))
    return img


def predict_images(checkpoint: str | None, images: list[str], out_dir: str, box=None, device="cpu") -> list[Path]:
    """Per image: ``<stem>.png`` (faces drawn); per face ``f``: ``<stem>_face<f>.pts`` (the 68 iBUG
    points, or all K for a spec without them) and ``<stem>_face<f>.json`` (box, all K points with
    names and visibility). ``checkpoint`` None: the shipped model. ``box``: one face per image,
    given (no detector). Returns the .pts paths."""
    from PIL import Image

    predictor = Predictor(checkpoint, device)
    names = list(predictor.meta.get("landmark_names", []))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in images:
        try:
            img = Image.open(path).convert("RGB")
        except (OSError, Image.DecompressionBombError) as exc:  # truncated or damaged pixel data
            raise TrainerError(f"{path}: cannot read the image ({one_line(str(exc), 120)})") from None
        faces = predictor(np.asarray(img), None if box is None else [box])
        stem = Path(path).stem
        for f, face in enumerate(faces):
            pts = face["ibug68"] if face["ibug68"] is not None else face["points"]
            write_pts(out / f"{stem}_face{f}.pts", pts)
            record = dict(image=str(path), box=[float(v) for v in face["box"]], names=names,
                          points=face["points"].round(3).tolist(), visibility=face["visibility"].round(4).tolist(),
                          ibug68_index=predictor.ibug_index or [])
            (out / f"{stem}_face{f}.json").write_text(json.dumps(record))
            written.append(out / f"{stem}_face{f}.pts")
        draw_faces(img, faces).save(out / f"{stem}.png")
    return written
