"""Generate the demo's example image ``input.jpg`` (and ``input_bbox.json``) from the project's synthetic body.

    python tools/make_demo_input.py                       # synthetic model files generated on the fly (seed 0)
    python tools/make_demo_input.py --human_model_dir DIR --out_dir demo

The picture is made by this project: one synthetic SMPL-format body (tools/synthetic/body_models.py, seed 0) in a
fixed walking pose, rendered with the project's NumPy rasteriser through the demo's default virtual camera
(focal 1500 px, principal point at the image centre) over a procedural background.  No photograph or third-party
asset is involved; see demo/README.md for the licence.

The scene's pieces (body orientation, clothes colours, background, model files) are shared with the video demo's
media, tools/synthetic/demo_media.

``input_bbox.json`` holds the person's box (the tight box of the projected vertices) as a COCO-style detection list,
for running the demo without the person detector: ``python demo.py ... --bbox_json input_bbox.json``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT_DIR = Path(__file__).resolve().parents[1]
if str(ROOT_DIR) not in sys.path:
    sys.path.insert(0, str(ROOT_DIR))

from common.utils.human_models import SMPL  # noqa: E402
from common.utils.io import atomic_write_bytes  # noqa: E402
from common.utils.raster import render_meshes  # noqa: E402
from common.utils.transforms import cam2pixel  # noqa: E402
from common.utils.vis import encode_jpg  # noqa: E402
from main.predictor.run import VIRTUAL_FOCAL  # noqa: E402

IMG_SHAPE = (392, 640)  # (H, W), the size of the original's example
FOCAL = VIRTUAL_FOCAL  # the demo's default camera, so the example needs no --focal
PRINCPT = (IMG_SHAPE[1] / 2.0, IMG_SHAPE[0] / 2.0)
JPEG_QUALITY = 90
# colour groups per SMPL joint (by the joint that skins a vertex most): 0 skin, 1 shirt, 2 trousers, 3 shoes
PART_GROUP = np.array([2, 2, 2, 1, 2, 2, 1, 3, 3, 1, 3, 3, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0])
PALETTE = np.array([[222, 178, 148], [196, 62, 48], [46, 64, 112], [36, 30, 28]], dtype=np.float64)


@dataclass
class ExampleScene:
    """The rendered example and its ground truth.

    image (H, W, 3) uint8 RGB; verts_cam (6890, 3) metres (camera space); faces (13776, 3); mask (H, W) bool
    (pixels covered by the body); bbox (x, y, w, h) pixels (tight box of the projected vertices); focal, princpt
    in pixels.
    """

    image: np.ndarray
    verts_cam: np.ndarray
    faces: np.ndarray
    mask: np.ndarray
    bbox: np.ndarray
    focal: tuple[float, float]
    princpt: tuple[float, float]


def example_pose() -> np.ndarray:
    """(72,) SMPL axis-angle pose: upright, turned 0.35 rad, mid-stride, arms lowered and bent."""
    pose = np.zeros((24, 3))
    pose[0] = body_orientation(yaw=0.35, pitch=0.04)
    pose[1] = (-0.45, 0.0, 0.06)   # left hip: forward
    pose[4] = (0.55, 0.0, 0.0)     # left knee
    pose[2] = (0.25, 0.0, -0.06)   # right hip: back
    pose[5] = (0.35, 0.0, 0.0)     # right knee
    pose[7] = (0.15, 0.0, 0.0)
    pose[3] = (0.05, 0.0, 0.0)
    pose[9] = (0.05, -0.1, 0.0)
    pose[15] = (0.1, 0.25, 0.0)    # head turned
    pose[16] = (0.2, 0.25, -1.05)  # left shoulder: arm down
    pose[17] = (-0.25, -0.2, 1.15)  # right shoulder
    pose[18] = (0.0, -0.9, 0.0)    # left elbow
    pose[19] = (0.0, 0.45, 0.0)    # right elbow
    return pose.reshape(-1)


def body_orientation(yaw: float, pitch: float = 0.0) -> np.ndarray:
    """(3,) SMPL global orientation (axis-angle) of an upright body facing the camera, turned ``yaw`` rad about its
    vertical axis (positive: its front turns towards camera +x) and leaning ``pitch`` rad."""
    from scipy.spatial.transform import Rotation  # noqa: PLC0415

    # 180 degrees about x (SMPL y-up -> camera y-down), then the yaw about the body axis
    rx = np.array([[1, 0, 0], [0, -1, 0], [0, 0, -1]], dtype=np.float64)
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rp = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    return Rotation.from_matrix(rx @ rp @ ry).as_rotvec()


def part_colours(smpl: SMPL, palette: np.ndarray = PALETTE, gender: str = "neutral") -> np.ndarray:
    """(6890, 3) float RGB per vertex: ``palette`` rows (skin, shirt, trousers, shoes) by the joint that skins the
    vertex most."""
    weights = np.asarray(smpl.model_data(gender)["weights"])
    return np.asarray(palette, dtype=np.float64)[PART_GROUP[np.argmax(weights, axis=1)]]


def background(height: int, width: int) -> np.ndarray:
    """A plain scene: a wall with a soft vertical gradient and a darker floor below a horizon line (RGB uint8)."""
    rows = np.linspace(0.0, 1.0, height)[:, None, None]
    wall = np.array([198, 208, 214]) * (1.0 - 0.15 * rows) + 10.0
    floor = np.array([150, 128, 104]) * (0.8 + 0.3 * rows)
    horizon = int(height * 0.62)
    img = np.where(np.arange(height)[:, None, None] < horizon, wall, floor)
    img = np.broadcast_to(img, (height, width, 3)).copy()
    img[horizon - 1:horizon + 1] *= 0.7
    return np.clip(img, 0, 255).astype(np.uint8)


def render_example(human_model_dir: str | Path) -> ExampleScene:
    """Render the example scene with the SMPL-format model files in ``human_model_dir`` (deterministic)."""
    smpl = SMPL(human_model_dir)
    with torch.no_grad():
        verts, joints = smpl.forward(torch.as_tensor(example_pose(), dtype=torch.float32)[None],
                                     torch.zeros(1, 10))
    verts = verts[0].double().numpy()
    root = joints[0, 0].double().numpy()
    # body height ~80% of the image, root a little left of and below the image centre
    height_m = verts[:, 1].max() - verts[:, 1].min()
    depth = FOCAL[1] * height_m / (0.78 * IMG_SHAPE[0])
    centre_y = 0.5 * (verts[:, 1].max() + verts[:, 1].min())
    trans = np.array([-0.25, 0.02 * depth - centre_y, depth - root[2]])
    verts_cam = verts + trans
    image, labels, _ = render_meshes([(verts_cam, smpl.face, part_colours(smpl))], FOCAL, PRINCPT, IMG_SHAPE,
                                     background(*IMG_SHAPE))
    px = cam2pixel(verts_cam, FOCAL, PRINCPT)
    lo, hi = px[:, :2].min(0), px[:, :2].max(0)
    bbox = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
    return ExampleScene(image=image, verts_cam=verts_cam, faces=smpl.face, mask=labels > 0, bbox=bbox,
                        focal=FOCAL, princpt=PRINCPT)


def bbox_json(bbox: np.ndarray) -> str:
    """COCO-style detection list for one person box (x, y, w, h) in pixels."""
    return json.dumps([{"image_id": 0, "category_id": 1, "bbox": [round(float(v), 2) for v in bbox],
                        "score": 1.0}], indent=1) + "\n"


@contextlib.contextmanager
def model_dir_or_synthetic(human_model_dir: str | Path | None) -> Iterator[Path]:
    """``human_model_dir`` itself, or, when it is None, a temporary folder holding the synthetic SMPL files of seed 0
    (removed on exit)."""
    if human_model_dir is not None:
        yield Path(human_model_dir)
        return
    from tools.synthetic.body_models import write_smpl_files  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        write_smpl_files(tmp, seed=0)
        yield Path(tmp)


def write_example(out_dir: str | Path, human_model_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``input.jpg`` and ``input_bbox.json`` to ``out_dir`` (synthetic model files made on the fly if no dir)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with model_dir_or_synthetic(human_model_dir) as model_dir:
        scene = render_example(model_dir)
    img_path = atomic_write_bytes(out_dir / "input.jpg", encode_jpg(scene.image, JPEG_QUALITY))
    box_path = atomic_write_bytes(out_dir / "input_bbox.json", bbox_json(scene.bbox).encode())
    return img_path, box_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", type=Path, default=ROOT_DIR / "demo")
    parser.add_argument("--human_model_dir", type=Path, default=None,
                        help="SMPL-format model files (default: synthetic ones generated with seed 0)")
    args = parser.parse_args(argv)
    for path in write_example(args.out_dir, args.human_model_dir):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
