"""The synthetic demo video: two SMPL people walking across a 320 x 240 view in opposite directions, 16 frames at
30 frames/s.

Both are synthetic SMPL-format bodies (tools/synthetic/body_models.py, shapes drawn from the seed) in a procedural
walking pose, standing on a floor 0.9 m below the camera, rendered with the project's NumPy rasteriser through the
demo's default virtual camera (focal 1500 px, principal point at the image centre), so the demo needs no ``--focal``.
Person 0 walks right at 16 m; person 1 jogs left at 14.5 m, in front of person 0: their boxes overlap by IoU >= 0.5
for a few frames while they cross, and person 1 leaves the image on the left before the last frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.utils.human_models import SMPL
from common.utils.raster import render_meshes
from common.utils.transforms import cam2pixel
from tools.make_demo_input import FOCAL, PALETTE, background, body_orientation, part_colours

FPS = 30.0  # frames per second of the video
FRAME_COUNT = 16
IMG_SHAPE = (240, 320)  # (H, W) pixels
PRINCPT = (IMG_SHAPE[1] / 2.0, IMG_SHAPE[0] / 2.0)
CAMERA_HEIGHT = 0.9  # metres from the camera down to the floor
CROSSING_IOU = 0.5  # the boxes of the two people overlap at least this much in a few frames
# COCO's 17 keypoints (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles) in the 29-joint SMPL set
COCO_FROM_SMPL = (24, 25, 26, 27, 28, 16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8)


@dataclass(frozen=True)
class Walker:
    """One person: SMPL gender, distance from the camera (m), camera x of the root at frame 0 (m), velocity along
    camera x (m per frame; its sign is the walking direction), gait phase at frame 0 (rad), frames per gait cycle
    (two steps) and clothes colours (skin, shirt, trousers, shoes RGB rows)."""

    gender: str
    depth: float
    start_x: float
    velocity: float
    phase: float
    gait_period: float
    palette: np.ndarray


# Person 0 walks right at 16 m (about 175 px tall, 3 px a frame); person 1 jogs left at 14.5 m, in front of person 0
# (about 165 px tall, 14 px a frame): their boxes overlap by IoU >= 0.5 in frames 2-5 and person 1 has left the image
# from frame 12 on.  16 frames give little room: the crossing happens in the left half so that the exit fits.
WALKERS = (
    Walker("male", 16.0, -0.85, 0.032, 0.0, 18.0, PALETTE),
    Walker("female", 14.5, -0.19, -0.135, np.pi / 2, 10.0,
           np.array([[176, 128, 96], [58, 150, 92], [70, 70, 78], [200, 200, 196]], dtype=np.float64)),
)


@dataclass(frozen=True)
class DemoVideo:
    """The rendered video and its ground truth; T frames, P people (person p's identity is p).

    frames: T arrays (H, W, 3) uint8 RGB.  fps: frames per second.  focal, princpt: pixels.
    visible (T, P) bool: some of the person's projected vertices fall inside the image.
    boxes (T, P, 4): the tight box (x, y, w, h pixels) of the person's projected vertices clipped to the image
    ([0, W - 1] x [0, H - 1], pixel centres; a body partly outside keeps its whole height); NaN where not visible.
    verts_cam (T, P, 6890, 3) and joints_cam (T, P, 29, 3): metres, camera space (the 29-joint SMPL set).
    joints_img (T, P, 29, 2): the joints projected to the image, pixels (not clipped).
    keypoints (T, P, 17, 3): COCO keypoints x, y (pixels, not clipped), v (0 outside the image, 1 inside but hidden
    by another person, 2 otherwise: a body hiding its own joints is not modelled).
    labels (T, H, W) uint8: 0 background, p + 1 where person p is the nearest surface.
    """

    frames: list[np.ndarray]
    fps: float
    focal: tuple[float, float]
    princpt: tuple[float, float]
    visible: np.ndarray
    boxes: np.ndarray
    verts_cam: np.ndarray
    joints_cam: np.ndarray
    joints_img: np.ndarray
    keypoints: np.ndarray
    labels: np.ndarray

    def people_in_frame(self, frame: int) -> list[int]:
        """Identities of the people visible in ``frame``, in the order of their entries in the JSON files."""
        return [int(p) for p in np.flatnonzero(self.visible[frame])]

    def iou(self, frame: int, a: int = 0, b: int = 1) -> float:
        """Box IoU of people ``a`` and ``b`` in ``frame`` (0 when either is not visible)."""
        if not (self.visible[frame, a] and self.visible[frame, b]):
            return 0.0
        return box_iou(self.boxes[frame, a], self.boxes[frame, b])

    def crossing_frames(self, threshold: float = CROSSING_IOU) -> list[int]:
        """Frames where the two people's boxes overlap by IoU >= ``threshold``."""
        return [t for t in range(len(self.frames)) if self.iou(t) >= threshold]


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    return float(inter / (a[2] * a[3] + b[2] * b[3] - inter))


def walking_pose(phase: float, yaw: float) -> np.ndarray:
    """(72,) SMPL axis-angle pose mid-walk at gait ``phase`` (rad), turned ``yaw`` rad towards camera +x.

    Arms hang about 15 degrees out from the body with the elbows bent forward, so the wrists and hands stay clear of
    the torso; legs and arms swing in opposition.
    """
    from scipy.spatial.transform import Rotation  # noqa: PLC0415

    swing = np.sin(phase)
    pose = np.zeros((24, 3))
    pose[0] = body_orientation(yaw)
    pose[1] = (-0.4 * swing, 0.0, 0.0)  # left hip: forward while sin(phase) > 0
    pose[2] = (0.4 * swing, 0.0, 0.0)
    pose[4] = (0.15 + 0.45 * max(0.0, -swing), 0.0, 0.0)  # the knee of the trailing leg bends
    pose[5] = (0.15 + 0.45 * max(0.0, swing), 0.0, 0.0)
    for joint, side in ((16, 1.0), (17, -1.0)):  # shoulders: lower the arm, then swing it about the body's x axis
        arm = Rotation.from_rotvec((0.35 * swing * side, 0.0, 0.0)) * Rotation.from_rotvec((0.0, 0.0, -1.3 * side))
        pose[joint] = arm.as_rotvec()
    pose[18] = (0.0, -0.55, 0.0)  # elbows bent forward
    pose[19] = (0.0, 0.55, 0.0)
    return pose.reshape(-1)


def walk(smpl: SMPL, walker: Walker, betas: np.ndarray, frame_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Camera-space vertices (T, 6890, 3) and 29 joints (T, 29, 3), metres, of ``walker`` over the frames: the root
    at the walker's depth and x, the lowest vertex on the floor."""
    yaw = 0.6 * np.sign(walker.velocity)  # turned half towards the walking direction: the front stays in view
    poses = np.stack([walking_pose(walker.phase + 2 * np.pi * t / walker.gait_period, yaw) for t in range(frame_count)])
    with torch.no_grad():
        verts, _ = smpl.forward(torch.as_tensor(poses, dtype=torch.float32),
                                torch.as_tensor(np.tile(betas, (frame_count, 1)), dtype=torch.float32),
                                gender=walker.gender)
    verts = verts.double().numpy()
    root = np.einsum("v,tvc->tc", smpl.joint_regressor[0].astype(np.float64), verts)
    x = walker.start_x + walker.velocity * np.arange(frame_count)
    trans = np.stack([x - root[:, 0], CAMERA_HEIGHT - verts[:, :, 1].max(1), walker.depth - root[:, 2]], axis=1)
    verts = verts + trans[:, None]
    joints = np.einsum("jv,tvc->tjc", smpl.joint_regressor.astype(np.float64), verts)
    return verts, joints


def clipped_box(points: np.ndarray, img_shape: tuple[int, int]) -> np.ndarray | None:
    """Tight (x, y, w, h) box of pixel points (N, 2) clipped to [0, W - 1] x [0, H - 1]; None when it is empty."""
    height, width = img_shape
    lo = np.maximum(points.min(0), 0.0)
    hi = np.minimum(points.max(0), (width - 1.0, height - 1.0))
    if np.any(hi <= lo):
        return None
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])


def _keypoints(joints_img: np.ndarray, labels: np.ndarray, person: int) -> np.ndarray:
    """(17, 3) COCO keypoints (x, y, v) of one person from its projected joints (29, 2) and the frame's label map."""
    height, width = labels.shape
    xy = joints_img[list(COCO_FROM_SMPL)]
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= width - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= height - 1)
    vis = np.zeros(len(xy))
    rc = np.round(xy[inside][:, ::-1]).astype(np.int64)
    label = labels[rc[:, 0], rc[:, 1]]
    vis[inside] = np.where((label > 0) & (label != person + 1), 1.0, 2.0)
    return np.concatenate([xy, vis[:, None]], axis=1)


def make_demo_video(human_model_dir: str | Path, seed: int = 0) -> DemoVideo:
    """Render the demo video with the SMPL-format model files in ``human_model_dir`` (deterministic for a seed:
    ``seed`` draws the people's body shapes).  Raises RuntimeError if the scene misses its crossing or exit."""
    smpl = SMPL(human_model_dir)
    rng = np.random.default_rng(seed)
    height, width = IMG_SHAPE
    walks = [walk(smpl, w, rng.normal(0.0, 0.5, 10), FRAME_COUNT) for w in WALKERS]
    verts_cam = np.stack([v for v, _ in walks], axis=1)  # (T, P, 6890, 3)
    joints_cam = np.stack([j for _, j in walks], axis=1)
    colours = [part_colours(smpl, w.palette, w.gender) for w in WALKERS]
    backdrop = background(height, width)
    frames, labels = [], []
    for t in range(FRAME_COUNT):
        meshes = [(verts_cam[t, p], smpl.face, colours[p]) for p in range(len(WALKERS))]
        image, label, _ = render_meshes(meshes, FOCAL, PRINCPT, IMG_SHAPE, backdrop)
        frames.append(image)
        labels.append(label)
    verts_img = cam2pixel(verts_cam.reshape(-1, 3), FOCAL, PRINCPT)[:, :2].reshape(*verts_cam.shape[:3], 2)
    joints_img = cam2pixel(joints_cam.reshape(-1, 3), FOCAL, PRINCPT)[:, :2].reshape(*joints_cam.shape[:3], 2)
    boxes = np.full((FRAME_COUNT, len(WALKERS), 4), np.nan)
    keypoints = np.zeros((FRAME_COUNT, len(WALKERS), len(COCO_FROM_SMPL), 3))
    for t in range(FRAME_COUNT):
        for p in range(len(WALKERS)):
            box = clipped_box(verts_img[t, p], IMG_SHAPE)
            if box is not None:
                boxes[t, p] = box
            keypoints[t, p] = _keypoints(joints_img[t, p], labels[t], p)
    video = DemoVideo(frames=frames, fps=FPS, focal=FOCAL, princpt=PRINCPT, visible=~np.isnan(boxes[..., 0]),
                      boxes=boxes, verts_cam=verts_cam, joints_cam=joints_cam, joints_img=joints_img,
                      keypoints=keypoints, labels=np.stack(labels))
    _check_scene(video, seed)
    return video


def _check_scene(video: DemoVideo, seed: int) -> None:
    """Raise RuntimeError unless the boxes cross (IoU >= 0.5 in three frames or more) and person 1 has left the
    image before the end, so that a body shape drawn by another seed cannot silently lose what the tests rely on."""
    if len(video.crossing_frames()) < 3:
        ious = [round(video.iou(t), 2) for t in range(len(video.frames))]
        raise RuntimeError(f"seed {seed}: the people's boxes overlap by IoU >= {CROSSING_IOU} in fewer than 3 "
                           f"frames (IoUs {ious}); use another seed")
    if video.visible[-1, 1]:
        raise RuntimeError(f"seed {seed}: person 1 does not leave the image (visible in every frame); use another "
                           f"seed")
