"""Single-image demo (spec/demo.md): boxes, camera and root depth, network, output mapping and the six output files.

``run_demo(argv)`` is the whole demo (``demo/demo.py`` calls :func:`main`); the steps are separate functions so that
they can be tested and reused:

* :func:`inspect_checkpoint` reads the variant (SMPL body / MANO hand: 6890 / 778 mesh_net outputs), the ResNet
  depth and, where the file says it, the training stage from a snapshot;
* :func:`resolve_people` gives the processed box, crop transforms and root depth of every person, from ``--bbox``,
  ``--bbox_json`` or the Faster R-CNN person detector (:mod:`common.detector`);
* :func:`map_person_outputs` is spec/demo.md §2 steps 6-9 (network outputs -> image pixels and camera space);
* :func:`make_output_files` draws, renders and encodes; :func:`write_outputs` writes every file atomically.

Units: every output mesh is in metres, camera space with OpenCV axes (x right, y down, z forward); the hand model's
millimetre param mesh (spec/body_models.md §7) is converted.  Images are RGB until encoded as BGR JPEGs (Q38 fixed).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from common.checkpoint import CheckpointError, CheckpointInfo, inspect_checkpoint, load_checkpoint_file, load_network
from common.nets.inference import prepare_inference
from common.nets.precision import autocast_context
from common.utils.human_models import build_human_model
from common.utils.io import atomic_write_bytes
from common.utils.model_files import ModelFileError
from common.utils.preprocessing import generate_patch_image, load_img, require_bbox, to_input_tensor
from common.utils.transforms import affine_points, cam2pixel, pixel2cam
from common.utils.vis import SIDE_VIEW_BACKGROUND, MeshRenderer, draw_mesh_vertices, encode_jpg, mesh_obj_bytes, \
    side_view
from main.config import add_config_arguments, config_from_args, parse_gpu_ids
from main.model import build_model_from_config

__all__ = ["DEMO_DIR", "VIRTUAL_FOCAL", "DemoError", "CheckpointInfo", "Person", "PersonMesh", "build_parser",
           "inspect_checkpoint", "estimate_root_depth", "read_bbox_json", "resolve_people", "map_person_outputs",
           "make_output_files", "write_outputs", "run_demo", "main"]

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"
VIRTUAL_FOCAL = (1500.0, 1500.0)  # the original's virtual camera, pixels
REAL_BOX_SIDE_M = {False: 2.0, True: 0.3}  # RootNet's 3D box side: 2 m x 2 m body, 0.3 m x 0.3 m hand


class DemoError(RuntimeError):
    """Bad demo input; the message names the file or flag and the fix."""


# ----- command line ----------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="I2L-MeshNet demo on one image (body or hand, from the snapshot).")
    parser.add_argument("--gpu", type=str, default=None, help="GPU id, e.g. 0 (the first one is used); "
                        "without CUDA the demo runs on the CPU")
    parser.add_argument("--stage", choices=("lixel", "param"), default="param",
                        help="param: lixel and param outputs (the original's six files); lixel: lixel outputs only")
    parser.add_argument("--test_epoch", type=int, default=None, help="read snapshot_<N>.pth.tar from demo/")
    parser.add_argument("--model_path", type=Path, default=None, help="snapshot file (instead of --test_epoch)")
    parser.add_argument("--img", type=Path, default=DEMO_DIR / "input.jpg", help="input image (default demo/input.jpg)")
    parser.add_argument("--out_dir", type=Path, default=Path("."), help="output folder (default: working directory)")
    parser.add_argument("--bbox", type=float, nargs=4, action="append", metavar=("X", "Y", "W", "H"),
                        help="person (or hand) box in pixels, top-left corner and size; repeat for several people")
    parser.add_argument("--bbox_json", type=Path, default=None,
                        help="COCO-style detections: a list of {'bbox': [x, y, w, h], 'score'?, 'category_id'?}")
    parser.add_argument("--focal", type=float, nargs=2, default=None, metavar=("FX", "FY"),
                        help=f"focal length in pixels (default: the virtual camera {VIRTUAL_FOCAL})")
    parser.add_argument("--princpt", type=float, nargs=2, default=None, metavar=("CX", "CY"),
                        help="principal point in pixels (default: the image centre)")
    parser.add_argument("--root_depth", type=float, nargs="+", default=None,
                        help="root depth in metres, one value or one per box (default: estimated from the box)")
    parser.add_argument("--det_thresh", type=float, default=0.5,
                        help="minimum detector / --bbox_json score of a person (default 0.5)")
    parser.add_argument("--max_people", type=int, default=None, help="keep at most N detections (best first)")
    parser.add_argument("--detector_weights", type=Path, default=None,
                        help="Faster R-CNN state-dict file (default: torchvision's COCO_V1 file in the torch hub cache)")
    parser.add_argument("--side_view", action="store_true", help="also write rendered_mesh_<stage>_side.jpg")
    parser.add_argument("--renderer", choices=("auto", "pyrender", "numpy"), default="auto",
                        help="auto: pyrender, or the NumPy rasteriser where OpenGL does not work")
    add_config_arguments(parser)
    return parser


# ----- checkpoint ------------------------------------------------------------------------------------------------

def _check_stage(info: CheckpointInfo, stage: str, path: Path) -> None:
    if stage != "param":
        return
    fix = ("run the demo with --stage lixel, or train the param stage first "
           "(cd main && python train.py --stage param --continue) and use its snapshot")
    if not info.has_param_regressor:
        raise DemoError(f"{path} has no param_regressor weights, which --stage param needs: {fix}")
    if info.stage == "lixel":
        raise DemoError(f"{path} is a lixel-stage snapshot ({info.stage_source} says so): its param_regressor "
                        f"weights are untrained, so --stage param would show a random mesh; {fix}")


# ----- people: boxes, camera, depth -----------------------------------------------------------------------------

@dataclass
class Person:
    """One person: ``bbox`` raw (x, y, w, h) px; ``bbox_proc`` processed (square, x1.25); ``img2bb`` / ``bb2img``
    (2, 3) crop affines; ``root_depth`` metres; ``score`` (detector / json, None for --bbox); ``source`` text."""

    bbox: np.ndarray
    bbox_proc: np.ndarray
    img2bb: np.ndarray
    bb2img: np.ndarray
    root_depth: float
    depth_source: str
    score: float | None
    source: str


def estimate_root_depth(bbox_proc: Sequence[float], focal: Sequence[float], is_hand: bool) -> float:
    """RootNet's depth without its learned correction: sqrt(f_x f_y A_real / A_box), in metres.

    ``A_real`` = 2 m x 2 m (body) or 0.3 m x 0.3 m (hand).  ``A_box`` is the area in pixels of the *processed* box
    (aspect-fixed to a square and enlarged 1.25x, what the network sees) because RootNet computes its k-value from
    that same processed box; with the raw box the depth would come out 1.25x larger and aspect-dependent.
    """
    area = float(bbox_proc[2]) * float(bbox_proc[3])
    return math.sqrt(float(focal[0]) * float(focal[1]) * REAL_BOX_SIDE_M[is_hand] ** 2 / area)


def _check_box(box: Sequence[float], width: int, height: int, name: str) -> np.ndarray:
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise DemoError(f"{name}: expected 4 finite numbers x y w h, got {box.tolist()}")
    x, y, w, h = box
    if w <= 0 or h <= 0:
        raise DemoError(f"{name} {box.tolist()} has zero or negative size (w={w}, h={h}); give x y w h in pixels "
                        f"with positive width and height")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise DemoError(f"{name} {box.tolist()} lies outside the {width}x{height} image; boxes are x y w h in "
                        f"pixels, (x, y) the top-left corner")
    return box


def read_bbox_json(path: Path, is_hand: bool, det_thresh: float) -> list[tuple[np.ndarray, float | None]]:
    """Boxes from a COCO-style detections file: a list of dicts with ``bbox`` [x, y, w, h] and optionally ``score``
    and ``category_id``.  Kept: score >= ``det_thresh`` (when given) and, for the body, category 1 (person)."""
    if not path.is_file():
        raise DemoError(f"--bbox_json {path}: file not found")
    try:
        entries = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DemoError(f"--bbox_json {path}: cannot be read as JSON ({exc})") from exc
    entries = [entries] if isinstance(entries, dict) else entries
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "bbox" in e for e in entries):
        raise DemoError(f"--bbox_json {path}: expected a list of objects each with a 'bbox': [x, y, w, h]")
    boxes = []
    for i, entry in enumerate(entries):
        try:
            score = None if entry.get("score") is None else float(entry["score"])
            box = np.asarray(entry["bbox"], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DemoError(f"--bbox_json {path}, entry {i + 1}: 'bbox' must be 4 numbers and 'score' a number "
                            f"({exc})") from exc
        if (score is not None and score < det_thresh) or (not is_hand and entry.get("category_id", 1) != 1):
            continue
        boxes.append((box, score))
    if not boxes:
        raise DemoError(f"--bbox_json {path}: no box with score >= --det_thresh {det_thresh}"
                        + ("" if is_hand else " and category_id 1 (person)"))
    return boxes


def _detect(args: argparse.Namespace, img: np.ndarray, device: torch.device, timings: dict) -> list:
    from common.detector import DetectorWeightsError, build_person_detector, detect_people  # noqa: PLC0415

    start = time.perf_counter()
    try:
        detector = build_person_detector(args.detector_weights, args.det_thresh, device)
    except DetectorWeightsError as exc:
        if Path(args.img).resolve() == (DEMO_DIR / "input.jpg").resolve():
            raise DetectorWeightsError(f"{exc} (for the shipped example: --bbox_json "
                                       f"{DEMO_DIR / 'input_bbox.json'})") from exc
        raise
    timings["detector load"] = time.perf_counter() - start
    start = time.perf_counter()
    found = detect_people(detector, img, args.det_thresh, device)
    timings["detector"] = time.perf_counter() - start
    if not found:
        raise DemoError(f"no person found in {args.img} with score >= --det_thresh {args.det_thresh}: lower "
                        f"--det_thresh or give the boxes with --bbox x y w h")
    return [(np.asarray(d.bbox), d.score) for d in found[:args.max_people]]


def resolve_people(args: argparse.Namespace, img: np.ndarray, focal: Sequence[float], is_hand: bool,
                   input_img_shape: tuple[int, int], device: torch.device, timings: dict) -> list[Person]:
    """Boxes from --bbox, then --bbox_json; without both, from the person detector.  Each box is processed, cropped
    (scale 1, no rotation or flip) and given a root depth (--root_depth, or :func:`estimate_root_depth`)."""
    height, width = img.shape[:2]
    raw = [(np.asarray(b, dtype=np.float64), None, f"--bbox #{i + 1}") for i, b in enumerate(args.bbox or [])]
    if args.bbox_json is not None:
        raw += [(b, s, f"--bbox_json entry {i + 1}")
                for i, (b, s) in enumerate(read_bbox_json(args.bbox_json, is_hand, args.det_thresh))]
    if not raw:
        if is_hand:
            raise DemoError("the hand model needs hand boxes: give them with --bbox x y w h or --bbox_json FILE "
                            "(the person detector finds bodies, not hands)")
        raw = [(b, s, f"detection {i + 1}") for i, (b, s) in enumerate(_detect(args, img, device, timings))]
    depths = args.root_depth
    if depths is not None and len(depths) not in (1, len(raw)):
        raise DemoError(f"--root_depth: {len(depths)} values for {len(raw)} boxes; give one value or one per box")
    people = []
    for k, (box, score, name) in enumerate(raw):
        box = _check_box(box, width, height, name)
        try:
            proc = require_bbox(box, width, height, input_img_shape[1] / input_img_shape[0])
        except ValueError as exc:
            raise DemoError(f"{name}: {exc}") from exc
        _, img2bb, bb2img = generate_patch_image(img, proc, 1.0, 0.0, False, input_img_shape)
        if depths is not None:
            depth, how = float(depths[0] if len(depths) == 1 else depths[k]), "--root_depth"
        else:
            depth, how = estimate_root_depth(proc, focal, is_hand), "estimated from the box"
        people.append(Person(box, proc, img2bb, bb2img, depth, how, score, name))
    return people


# ----- output mapping (spec/demo.md §2) ---------------------------------------------------------------------------

@dataclass
class PersonMesh:
    """One person's meshes: ``lixel_img`` (V, 3) x, y image pixels and z metres relative to the root;
    ``lixel_cam``, ``param_cam`` (V, 3) camera space, metres (param None in the lixel stage); ``root_cam`` (3,) m."""

    lixel_img: np.ndarray
    lixel_cam: np.ndarray
    root_cam: np.ndarray
    param_cam: np.ndarray | None


def map_person_outputs(mesh_hm: np.ndarray, bb2img: np.ndarray, root_depth: float, focal: Sequence[float],
                       princpt: Sequence[float], root_weights: np.ndarray, bbox_3d_size: float,
                       mesh_cam_rel: np.ndarray | None = None, cam_unit_per_m: float = 1.0,
                       input_img_shape: tuple[int, int] = (256, 256),
                       output_hm_shape: tuple[int, int, int] = (64, 64, 64)) -> PersonMesh:
    """Network outputs of one person -> image and camera space (spec/demo.md §2 steps 6-9).

    ``mesh_hm``: (V, 3) lixel mesh, hm units; ``bb2img``: (2, 3) crop -> image affine; ``root_depth`` metres;
    ``root_weights``: (V,) regressor row of the root joint (SMPL J_regressor row 0 / MANO wrist);
    ``bbox_3d_size`` metres (2 body, 0.3 hand); ``mesh_cam_rel``: (V, 3) root-relative param mesh in the model's
    unit, ``cam_unit_per_m`` units per metre (1 SMPL, 1000 MANO).  The root's (x, y) comes from the lixel mesh.
    """
    mesh_hm = np.asarray(mesh_hm, dtype=np.float64)
    lixel_img = np.empty_like(mesh_hm)
    xy = mesh_hm[:, :2] / np.array([output_hm_shape[2], output_hm_shape[1]]) \
        * np.array([input_img_shape[1], input_img_shape[0]])
    lixel_img[:, :2] = affine_points(xy, bb2img)
    lixel_img[:, 2] = (mesh_hm[:, 2] / output_hm_shape[0] * 2.0 - 1.0) * (bbox_3d_size / 2.0)
    root_uv = np.asarray(root_weights, dtype=np.float64) @ lixel_img[:, :2]
    root_cam = pixel2cam(np.array([[root_uv[0], root_uv[1], root_depth]]), focal, princpt)[0]
    lixel_cam = pixel2cam(lixel_img + np.array([0.0, 0.0, root_depth]), focal, princpt)
    param_cam = None
    if mesh_cam_rel is not None:
        param_cam = np.asarray(mesh_cam_rel, dtype=np.float64) / cam_unit_per_m + root_cam
    return PersonMesh(lixel_img=lixel_img, lixel_cam=lixel_cam, root_cam=root_cam, param_cam=param_cam)


# ----- outputs ---------------------------------------------------------------------------------------------------

def make_output_files(img: np.ndarray, meshes: Sequence[PersonMesh], faces: np.ndarray, focal: Sequence[float],
                      princpt: Sequence[float], stages: Sequence[str], renderer: MeshRenderer,
                      with_side_view: bool = False) -> dict[str, bytes]:
    """Encoded output files by name (spec/demo.md §3): per stage a vertex drawing and a rendering of all people
    (``output_mesh_<stage>.jpg``, ``rendered_mesh_<stage>.jpg``, optionally ``rendered_mesh_<stage>_side.jpg``) and
    one OBJ per person (``output_mesh_<stage>.obj``; ``output_mesh_<stage>_person<k>.obj`` for several people).
    ``img``: (H, W, 3) uint8 RGB."""
    files: dict[str, bytes] = {}
    for stage in stages:
        cams = [m.lixel_cam if stage == "lixel" else m.param_cam for m in meshes]
        drawn = [m.lixel_img[:, :2] for m in meshes] if stage == "lixel" else \
            [cam2pixel(c, focal, princpt)[:, :2] for c in cams]
        files[f"output_mesh_{stage}.jpg"] = encode_jpg(draw_mesh_vertices(img, drawn))
        scene = [(c, faces) for c in cams]
        files[f"rendered_mesh_{stage}.jpg"] = encode_jpg(renderer.render(scene, focal, princpt, img).image)
        if with_side_view:
            background = np.zeros_like(img) + np.array(SIDE_VIEW_BACKGROUND, dtype=np.uint8)
            files[f"rendered_mesh_{stage}_side.jpg"] = encode_jpg(
                renderer.render(side_view(scene), focal, princpt, background).image)
        for k, cam in enumerate(cams):
            name = f"output_mesh_{stage}.obj" if len(cams) == 1 else f"output_mesh_{stage}_person{k}.obj"
            files[name] = mesh_obj_bytes(cam, faces)
    return files


def _check_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write_test.", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DemoError(f"output folder {out_dir.resolve()} cannot be written ({exc.strerror or exc}): choose "
                        f"another with --out_dir or fix its permissions") from exc


def write_outputs(out_dir: Path, files: dict[str, bytes]) -> dict[str, Path]:
    """Write every file atomically (temporary file + rename) into ``out_dir``; returns name -> path.

    If one write fails, the files this call already wrote are removed again, so a run leaves all of its outputs
    or none (no file is ever partial).
    """
    _check_out_dir(out_dir)
    written: dict[str, Path] = {}
    try:
        for name, data in files.items():
            written[name] = atomic_write_bytes(out_dir / name, data)
    except OSError as exc:
        for path in written.values():
            path.unlink(missing_ok=True)
        raise DemoError(f"writing {name} into {out_dir.resolve()} failed ({exc}); nothing was kept: check the free "
                        f"space and permissions or choose another --out_dir") from exc
    return written


# ----- the demo --------------------------------------------------------------------------------------------------

def _device(gpu: str | None) -> torch.device:
    """The first ``--gpu`` id (default 0) when CUDA is available, else the CPU (said on the console)."""
    if torch.cuda.is_available():
        return torch.device("cuda", parse_gpu_ids(gpu)[0] if gpu else 0)
    print("CUDA is not available: running on the CPU" + (f" (--gpu {gpu} ignored)" if gpu else ""))
    return torch.device("cpu")


def _config(args: argparse.Namespace, info: CheckpointInfo):
    """The run's Config: the checkpoint's variant and ResNet depth, every other field from the flags."""
    extra = {}
    if info.is_hand and args.trainset_3d is None and args.trainset_2d is None and args.testset is None:
        extra = {"trainset_3d": ("FreiHAND",), "trainset_2d": (), "testset": "FreiHAND"}
    if args.resnet_type is None:
        extra["resnet_type"] = info.resnet_type
    try:
        cfg = config_from_args(args, **extra)
    except ValueError as exc:
        raise DemoError(str(exc)) from exc
    if cfg.is_hand != info.is_hand:
        want = "hand (MANO)" if info.is_hand else "body (SMPL)"
        raise DemoError(f"the snapshot is a {want} model but --trainset_3d/--trainset_2d/--testset select the "
                        f"{'hand' if cfg.is_hand else 'body'} variant; drop those flags (the demo reads the "
                        f"variant from the snapshot)")
    return cfg


def run_demo(argv: Sequence[str] | None = None) -> dict[str, Path]:
    """Run the demo with command-line arguments ``argv``; returns the written files (name -> path)."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    timings: dict[str, float] = {}
    for flag, values in (("--focal", args.focal), ("--root_depth", args.root_depth)):
        if values is not None and not all(math.isfinite(v) and v > 0 for v in values):
            raise DemoError(f"{flag} {values}: must be positive ({'pixels' if flag == '--focal' else 'metres'})")
    if args.princpt is not None and not all(math.isfinite(v) for v in args.princpt):
        raise DemoError(f"--princpt {args.princpt}: must be finite pixel coordinates")
    if args.max_people is not None and args.max_people < 1:
        raise DemoError(f"--max_people {args.max_people}: must be at least 1")
    _check_out_dir(args.out_dir)
    try:
        img = load_img(args.img)
    except (FileNotFoundError, OSError) as exc:
        raise DemoError(f"--img: {exc}; pass an existing JPEG/PNG image with --img PATH") from exc
    height, width = img.shape[:2]
    focal = tuple(args.focal) if args.focal else VIRTUAL_FOCAL
    princpt = tuple(args.princpt) if args.princpt else (width / 2.0, height / 2.0)

    if args.model_path is None and args.test_epoch is None:
        raise DemoError("no snapshot given: pass --test_epoch N (reads demo/snapshot_N.pth.tar) or --model_path FILE")
    model_path = args.model_path or DEMO_DIR / f"snapshot_{args.test_epoch}.pth.tar"
    start = time.perf_counter()
    ckpt = load_checkpoint_file(model_path)
    print(f"Load checkpoint from {model_path}")
    info = inspect_checkpoint(ckpt, model_path)
    _check_stage(info, args.stage, model_path)
    cfg = _config(args, info)
    timings["checkpoint read"] = time.perf_counter() - start
    device = _device(args.gpu)

    people = resolve_people(args, img, focal, info.is_hand, cfg.input_img_shape, device, timings)
    for k, p in enumerate(people):
        score = "" if p.score is None else f", score {p.score:.3f}"
        print(f"person {k}: box {np.round(p.bbox, 1).tolist()} ({p.source}{score}), processed box "
              f"{np.round(p.bbox_proc, 1).tolist()}, root depth {p.root_depth:.3f} m ({p.depth_source})")

    start = time.perf_counter()
    human_model = build_human_model(cfg.is_hand, cfg.human_model_dir)
    model = build_model_from_config(cfg, human_model, mode="test")
    load_network(model, ckpt["network"], source=str(model_path))
    del ckpt
    model = prepare_inference(model.to(device), cfg.amp)  # eval mode, BatchNorm folded into the convolutions
    timings["network load"] = time.perf_counter() - start

    start = time.perf_counter()
    crops = torch.stack([to_input_tensor(generate_patch_image(img, p.bbox_proc, 1.0, 0.0, False,
                                                              cfg.input_img_shape)[0]) for p in people])
    bb2img = torch.as_tensor(np.stack([p.bb2img for p in people]))
    with torch.inference_mode(), autocast_context(device, cfg.amp):
        out = model({"img": crops.to(device)}, {}, {"bb2img_trans": bb2img}, "test")
    timings["network"] = time.perf_counter() - start

    root_weights = human_model.joint_regressor[human_model.root_joint_idx]
    unit = 1000.0 if cfg.is_hand else 1.0
    meshes = [map_person_outputs(
        out["mesh_coord_img"][k].float().cpu().numpy(), p.bb2img, p.root_depth, focal, princpt, root_weights,
        cfg.bbox_3d_size, out["mesh_coord_cam"][k].float().cpu().numpy() if args.stage == "param" else None,
        unit, cfg.input_img_shape, cfg.output_hm_shape) for k, p in enumerate(people)]

    start = time.perf_counter()
    stages = ("lixel",) if args.stage == "lixel" else ("lixel", "param")
    with MeshRenderer(args.renderer) as renderer:
        files = make_output_files(np.clip(np.round(img), 0, 255).astype(np.uint8), meshes, human_model.face,
                                  focal, princpt, stages, renderer, args.side_view)
        print(f"Rendered with: {renderer.name}")
    timings["rendering and drawing"] = time.perf_counter() - start
    written = write_outputs(args.out_dir, files)
    for name, path in written.items():
        print(f"wrote {path}")
    print("time (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: run the demo, print a one-line error (exit code 1) for bad input."""
    from common.detector import DetectorWeightsError  # noqa: PLC0415

    try:
        run_demo(argv)
    except (DemoError, CheckpointError, ModelFileError, DetectorWeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
