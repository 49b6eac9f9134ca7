"""Face boxes for ``facegen predict``: dlib's HOG face detector (``dlib-bin``, the ``predict``
extra; no model file) and the map from its box to the crop the landmark model was trained on.

The model was trained on crops centred on the 68-point box, ``crop_margin`` x its longer side.
A detector box is not that box: on 87 Cycles renders where the detector found the face, dlib's
300-W-trained 68-point predictor put its points' box 0.096 box sides below the detector box's
centre and 0.956 box sides wide (``bench/fit_ibug68.py collect`` data; a property of the
detector, measured without the real test faces). ``predict`` starts from that estimate, then
crops again around its own first answer (the training convention exactly) and predicts again.
"""

from __future__ import annotations

import numpy as np

from .config import TrainerError

DET_CENTRE_SHIFT = 0.096  # landmark box centre below the detector box centre, in detector box sides
DET_TO_LANDMARK_SIDE = 0.956  # landmark box longer side / detector box side
HOG_UPSAMPLE = 1  # image doublings before the HOG scan (finds faces down to ~40 px)


def hog_detector():
    """dlib's frontal HOG detector; ``TrainerError`` naming the extra when dlib is missing."""
    try:
        import dlib
    except ImportError:
        raise TrainerError("finding faces needs dlib: pip install 'facegen[predict]' (dlib-bin), "
                           "or give the face with --box X0,Y0,X1,Y1") from None
    return dlib.get_frontal_face_detector()


def detect_faces(image: np.ndarray, detector=None) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(F, 4)`` float64 boxes x0, y0, x1, y1 (pixel corners), largest
    first; ``(0, 4)`` when no face is found."""
    detector = detector or hog_detector()
    rects = detector(np.ascontiguousarray(image, np.uint8), HOG_UPSAMPLE)
    boxes = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], np.float64).reshape(-1, 4)
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    return boxes[order]


def landmark_box_from_detection(box) -> np.ndarray:
    """Detector box -> the estimated 68-point box (x0, y0, x1, y1) it stands for."""
    x0, y0, x1, y1 = np.asarray(box, np.float64)
    side = np.sqrt(max(x1 - x0, 1.0) * max(y1 - y0, 1.0))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + DET_CENTRE_SHIFT * side
    half = DET_TO_LANDMARK_SIDE * side / 2
    return np.array([cx - half, cy - half, cx + half, cy + half])
