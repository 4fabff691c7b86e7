"""Image-side sample pipeline: loading, boxes, augmentation draws, affine crop, colour, tensor conversion.

Pure NumPy / OpenCV functions shared by every dataset reader (docs/conventions.md, docs/data.md#augmentation).
Conventions used throughout:

* images are (H, W, 3) float32 RGB arrays with values in [0, 255];
* boxes are (x, y, w, h) in pixels of the original image, (x, y) being the top-left corner;
* ``out_shape`` / ``input_img_shape`` is (height, width) of the network input crop, (256, 256) in the paper;
* affine matrices are (2, 3) float32 and map row-less column vectors ``(u, v, 1)``.

Randomness is explicit: :func:`draw_aug_params` takes a :class:`numpy.random.Generator`, nothing here touches the
global ``random`` / ``np.random`` state.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch

__all__ = [
    "AugParams",
    "load_img",
    "process_bbox",
    "require_bbox",
    "bbox_from_keypoints",
    "draw_aug_params",
    "identity_aug_params",
    "get_affine_transforms",
    "generate_patch_image",
    "apply_color_scale",
    "augment_image",
    "to_input_tensor",
]


# --------------------------------------------------------------------------------------------------------------------
# 1. Image loading
# --------------------------------------------------------------------------------------------------------------------

def load_img(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as RGB, ignoring any EXIF orientation tag.

    Returns an (H, W, 3) float32 array, RGB channel order, values in [0, 255].
    Raises ``FileNotFoundError`` if ``path`` does not exist and ``OSError`` if it exists but OpenCV cannot decode it
    as an image; both messages name the path.
    """
    path_str = os.fspath(path)
    if not os.path.isfile(path_str):
        raise FileNotFoundError(f"image file not found: {path_str!r}")
    img = cv2.imread(path_str, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if not isinstance(img, np.ndarray):
        raise OSError(f"failed to read image (unreadable or not an image): {path_str!r}")
    return img[:, :, ::-1].astype(np.float32)  # BGR -> RGB (astype makes a contiguous copy)


# --------------------------------------------------------------------------------------------------------------------
# 2. Bounding boxes
# --------------------------------------------------------------------------------------------------------------------

def _is_integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def process_bbox(
    bbox: Sequence[float] | np.ndarray,
    img_width: float,
    img_height: float,
    aspect_ratio: float = 1.0,
) -> np.ndarray | None:
    """Sanitise a raw (x, y, w, h) pixel box and extend it to ``aspect_ratio`` (= W_in / H_in) and by 1.25.

    Returns a (4,) float64 array (x, y, w, h) in pixels, or ``None`` if the box is rejected
    (w·h <= 0, or the sanitised corners are inverted). Faithful to the original, including:

    * the sanitising step clamps the top-left corner to the image and computes the bottom-right corner from the
      *clamped* top-left, so a box starting left of / above the image is shifted rather than clipped;
    * if x, y, w, h and the image size are all integers the original's intermediate array is integer-typed, so the
      extended width/height and then the corner are truncated toward zero (reproduced here).
    """
    x, y, w, h = (bbox[i] for i in range(4))
    integer_typed = all(_is_integer(v) for v in (x, y, w, h, img_width, img_height))

    # 1. sanitise (x2/y2 from the clamped x1/y1: shift, not clip)
    x1 = max(0, x)
    y1 = max(0, y)
    x2 = min(img_width - 1, x1 + max(0, w - 1))
    y2 = min(img_height - 1, y1 + max(0, h - 1))
    # 2. reject (note: uses the *input* w and h)
    if not (w * h > 0 and x2 >= x1 and y2 >= y1):
        return None
    bx, by, bw, bh = x1, y1, x2 - x1, y2 - y1

    # 3. aspect-ratio fix around the centre, then x1.25
    c_x = bx + bw / 2.0
    c_y = by + bh / 2.0
    if bw > aspect_ratio * bh:
        bh = bw / aspect_ratio
    elif bw < aspect_ratio * bh:
        bw = bh * aspect_ratio
    new_w = bw * 1.25
    new_h = bh * 1.25
    if integer_typed:
        new_w = float(math.trunc(new_w))
        new_h = float(math.trunc(new_h))
    new_x = c_x - new_w / 2.0
    new_y = c_y - new_h / 2.0
    if integer_typed:
        new_x = float(math.trunc(new_x))
        new_y = float(math.trunc(new_y))
    return np.array([new_x, new_y, new_w, new_h], dtype=np.float64)


def require_bbox(
    bbox: Sequence[float] | np.ndarray,
    img_width: float,
    img_height: float,
    aspect_ratio: float = 1.0,
) -> np.ndarray:
    """Like :func:`process_bbox` but raise ``ValueError`` naming the box and image size instead of returning None.

    Returns a (4,) float64 array (x, y, w, h) in pixels.
    """
    out = process_bbox(bbox, img_width, img_height, aspect_ratio)
    if out is None:
        raise ValueError(
            f"degenerate bounding box {list(np.asarray(bbox).tolist())} for an image of size "
            f"{img_width}x{img_height} (width x height)"
        )
    return out


def bbox_from_keypoints(kps: np.ndarray, valid: np.ndarray, factor: float = 1.2) -> np.ndarray:
    """Box around the valid keypoints, width and height scaled by ``factor`` about the centre.

    ``kps``: (N, >=2) pixel coordinates (x, y, ...); ``valid``: (N,) or (N, 1) mask (non-zero = valid).
    Returns a (4,) float32 array (x, y, w, h) in pixels. Raises ``ValueError`` if no keypoint is valid.
    """
    kps = np.asarray(kps)
    mask = np.asarray(valid).reshape(-1) > 0
    if mask.shape[0] != kps.shape[0]:
        raise ValueError(f"bbox_from_keypoints: kps has {kps.shape[0]} rows but valid has {mask.shape[0]}")
    if not mask.any():
        raise ValueError("bbox_from_keypoints: no valid keypoint")
    xs = kps[mask, 0]
    ys = kps[mask, 1]
    x_min, x_max = xs.min(), xs.max()
    y_min, y_max = ys.min(), ys.max()
    c_x = (x_min + x_max) / 2.0
    c_y = (y_min + y_max) / 2.0
    half_w = (x_max - x_min) / 2.0 * factor
    half_h = (y_max - y_min) / 2.0 * factor
    x_min, x_max = c_x - half_w, c_x + half_w
    y_min, y_max = c_y - half_h, c_y + half_h
    return np.array([x_min, y_min, x_max - x_min, y_max - y_min], dtype=np.float32)


# --------------------------------------------------------------------------------------------------------------------
# 3. Augmentation parameters
# --------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AugParams:
    """One sample's augmentation draw.

    scale: crop scale factor (1 = the processed box); rot: in-plane rotation in degrees;
    color_scale: per-channel (R, G, B) multipliers; do_flip: horizontal flip.
    """

    scale: float
    rot: float
    color_scale: tuple[float, float, float]
    do_flip: bool


def identity_aug_params() -> AugParams:
    """The identity augmentation used at test time: scale 1, rotation 0, colour (1, 1, 1), no flip."""
    return AugParams(scale=1.0, rot=0.0, color_scale=(1.0, 1.0, 1.0), do_flip=False)


def draw_aug_params(rng: np.random.Generator, is_train: bool, allow_flip: bool = True) -> AugParams:
    """Draw the augmentation of one sample, in the original's order: scale, rotation, colour, flip.

    * scale = clip(N(0,1), -1, 1) * 0.25 + 1, in [0.75, 1.25];
    * rotation: if U(0,1) <= 0.6 then clip(N(0,1), -2, 2) * 30 degrees (normal drawn only then), else 0;
    * colour scale: three independent U(0.8, 1.2);
    * flip: U(0,1) <= 0.5 if ``allow_flip`` (no draw otherwise).

    With ``is_train`` False returns :func:`identity_aug_params` and draws nothing.
    """
    if not is_train:
        return identity_aug_params()
    scale = float(np.clip(rng.standard_normal(), -1.0, 1.0) * 0.25 + 1.0)
    if rng.random() <= 0.6:
        rot = float(np.clip(rng.standard_normal(), -2.0, 2.0) * 30.0)
    else:
        rot = 0.0
    c_low, c_up = 0.8, 1.2
    color_scale = (
        float(rng.uniform(c_low, c_up)),
        float(rng.uniform(c_low, c_up)),
        float(rng.uniform(c_low, c_up)),
    )
    do_flip = bool(rng.random() <= 0.5) if allow_flip else False
    return AugParams(scale=scale, rot=rot, color_scale=color_scale, do_flip=do_flip)


# --------------------------------------------------------------------------------------------------------------------
# 4. Crop generation
# --------------------------------------------------------------------------------------------------------------------

def _rotate_2d(vec_x: float, vec_y: float, cs: np.float64, sn: np.float64) -> np.ndarray:
    """Rotate the float32 vector (vec_x, vec_y) by the angle whose cosine/sine are the float64 ``cs``/``sn``.

    Returns a (2,) float32 array. The products of the float32 components with the float64 sin/cos are formed in
    float64, and each rotated component is then rounded to float32, like the original: the released weights were
    trained on crops whose corner points were float32 centre + float32 offset, and keeping the offset in float64 until
    the sum moves ``img2bb`` slightly, enough to flip single pixels of sharp edges after the warp
    (docs/conventions.md#crop-affine).
    """
    vx = np.float32(vec_x)
    vy = np.float32(vec_y)
    return np.array([vx * cs - vy * sn, vx * sn + vy * cs], dtype=np.float32)


def get_affine_transforms(
    center_x: float,
    center_y: float,
    box_width: float,
    box_height: float,
    out_shape: tuple[int, int],
    scale: float,
    rot: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Affine maps between the (scaled, rotated) box and the output crop.

    Centre (center_x, center_y) and size in original-image pixels; ``out_shape`` = (H_out, W_out); ``rot`` in
    degrees. Returns (img2bb, bb2img), each (2, 3) float32: img2bb maps original-image pixels to crop pixels,
    bb2img the reverse (built from the swapped point sets, not by matrix inversion).
    """
    if not (box_width * scale > 0 and box_height * scale > 0):
        raise ValueError(
            f"get_affine_transforms: the scaled box must have a positive size, got width {box_width}, "
            f"height {box_height}, scale {scale}"
        )
    out_h, out_w = float(out_shape[0]), float(out_shape[1])
    src_w = box_width * scale
    src_h = box_height * scale
    rot_rad = np.pi * rot / 180.0
    sn = np.float64(np.sin(rot_rad))
    cs = np.float64(np.cos(rot_rad))
    src_center = np.array([center_x, center_y], dtype=np.float32)
    src_down = _rotate_2d(0.0, src_h * 0.5, cs, sn)  # float32 pair
    src_right = _rotate_2d(src_w * 0.5, 0.0, cs, sn)

    # float32 centre + float32 offsets, summed in float32 (as the original; see _rotate_2d)
    src = np.zeros((3, 2), dtype=np.float32)
    src[0] = src_center
    src[1] = src_center + src_down
    src[2] = src_center + src_right
    dst_center = np.array([out_w * 0.5, out_h * 0.5], dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    dst[0] = dst_center
    dst[1] = dst_center + np.array([0.0, out_h * 0.5], dtype=np.float32)
    dst[2] = dst_center + np.array([out_w * 0.5, 0.0], dtype=np.float32)

    img2bb = cv2.getAffineTransform(src, dst).astype(np.float32)
    bb2img = cv2.getAffineTransform(dst, src).astype(np.float32)
    return img2bb, bb2img


def generate_patch_image(
    img: np.ndarray,
    bbox: Sequence[float] | np.ndarray,
    scale: float,
    rot: float,
    do_flip: bool,
    out_shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the (scaled, rotated, optionally mirrored) box out of ``img`` and resample it to ``out_shape``.

    ``img``: (H, W, C) image; ``bbox``: (x, y, w, h) in original-image pixels (already processed);
    ``rot`` in degrees; ``out_shape`` = (H_out, W_out). If ``do_flip`` the image is mirrored first
    (column u -> W - 1 - u) and the box centre mirrored with it, so ``img2bb`` maps *flipped* image pixels.
    Bilinear interpolation, constant black border. Raises ``ValueError`` for a box without positive size.
    Returns (patch (H_out, W_out, C) float32, img2bb (2, 3) float32, bb2img (2, 3) float32).
    """
    img = np.asarray(img)
    if img.ndim != 3:
        raise ValueError(f"generate_patch_image: expected an (H, W, C) image, got shape {img.shape}")
    if not (bbox[2] > 0 and bbox[3] > 0):
        raise ValueError(f"generate_patch_image: box {list(np.asarray(bbox).tolist())} has no positive width/height")
    img_width = img.shape[1]
    bb_c_x = float(bbox[0] + 0.5 * bbox[2])
    bb_c_y = float(bbox[1] + 0.5 * bbox[3])
    bb_w = float(bbox[2])
    bb_h = float(bbox[3])
    if do_flip:
        img = img[:, ::-1, :]
        bb_c_x = img_width - bb_c_x - 1
    img = np.ascontiguousarray(img)

    img2bb, bb2img = get_affine_transforms(bb_c_x, bb_c_y, bb_w, bb_h, out_shape, scale, rot)
    patch = cv2.warpAffine(
        img,
        img2bb,
        (int(out_shape[1]), int(out_shape[0])),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    if patch.ndim == 2:  # OpenCV drops a trailing singleton channel
        patch = patch[:, :, None]
    return patch.astype(np.float32), img2bb, bb2img


def apply_color_scale(patch: np.ndarray, color_scale: Sequence[float] | np.ndarray) -> np.ndarray:
    """Multiply each channel of an (H, W, 3) [0, 255] image by its factor and clip to [0, 255].

    Computed in float64 (as the original) and returned as (H, W, 3) float32.
    """
    factors = np.asarray(color_scale, dtype=np.float64).reshape(1, 1, -1)
    return np.clip(patch * factors, 0, 255).astype(np.float32)


def augment_image(
    img: np.ndarray,
    bbox: Sequence[float] | np.ndarray,
    aug: AugParams,
    out_shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop with ``aug``'s scale/rotation/flip and apply its colour scale.

    ``img``: (H, W, 3) float32 RGB [0, 255]; ``bbox``: processed (x, y, w, h) pixels; ``out_shape`` = (H_out, W_out).
    Returns (crop (H_out, W_out, 3) float32 in [0, 255], img2bb (2, 3) float32, bb2img (2, 3) float32).
    """
    patch, img2bb, bb2img = generate_patch_image(img, bbox, aug.scale, aug.rot, aug.do_flip, out_shape)
    return apply_color_scale(patch, aug.color_scale), img2bb, bb2img


def to_input_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float32 RGB [0, 255] array -> (3, H, W) float32 tensor in [0, 1] (no mean/std normalisation)."""
    chw = np.ascontiguousarray(np.asarray(img, dtype=np.float32).transpose(2, 0, 1))
    return torch.from_numpy(chw) / 255.0
