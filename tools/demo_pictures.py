"""The README's demo pictures, made with a snapshot from the project's synthetic media (offline: their detections and
keypoints are files).

    python tools/demo_pictures.py --model_path output/demo_snapshot/output/model_dump/snapshot_1.pth.tar \\
        --human_model_dir output/demo_snapshot/human_model_files [--out_dir assets]

Runs the demo three times, as its command line does, into a temporary folder:

1. ``demo/input.jpg`` with ``--bbox_json demo/input_bbox.json`` -> ``demo_image.png``: the lixel and the param
   rendering side by side;
2. ``demo/input_folder`` -> ``demo_folder.png``: the three overlays in a row;
3. ``demo/input_video.mp4`` with ``--smooth --side_view`` -> ``demo_video_frame.png``: frames 3 (the crossing) and 12
   (after one person left) of the overlay video, each with its side view.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.utils.io import atomic_write_bytes  # noqa: E402
from main.predictor.run import run_demo  # noqa: E402

DEMO = ROOT / "demo"
VIDEO_FRAMES = (3, 12)


def _png(image_rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image_rgb[:, :, ::-1]))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()


def _read(path: Path) -> np.ndarray:
    return cv2.imread(str(path))[:, :, ::-1]


def _video_frames(path: Path, indices: tuple[int, ...]) -> list[np.ndarray]:
    import av  # noqa: PLC0415

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return [frames[i] for i in indices]


def make_pictures(model_path: Path, human_model_dir: Path, out_dir: Path, renderer: str = "auto") -> dict[str, Path]:
    """Run the three demos and write the pictures into ``out_dir``; returns name -> path."""
    common = ["--model_path", str(model_path), "--human_model_dir", str(human_model_dir), "--renderer", renderer]
    written = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_demo([*common, "--img", str(DEMO / "input.jpg"), "--bbox_json", str(DEMO / "input_bbox.json"),
                  "--out_dir", str(tmp / "image")])
        image = np.concatenate([_read(tmp / "image" / f"rendered_mesh_{s}.jpg") for s in ("lixel", "param")], axis=1)
        run_demo([*common, "--img_dir", str(DEMO / "input_folder"), "--bbox_json",
                  str(DEMO / "input_folder_bbox.json"), "--out_dir", str(tmp / "folder")])
        folder = np.concatenate([_read(p) for p in sorted((tmp / "folder").glob("*_overlay.jpg"))], axis=1)
        run_demo([*common, "--video", str(DEMO / "input_video.mp4"), "--bbox_json",
                  str(DEMO / "input_video_bbox.json"), "--smooth", "--side_view", "--out_dir", str(tmp / "video")])
        video = np.concatenate(_video_frames(tmp / "video" / "input_video_overlay.mp4", VIDEO_FRAMES), axis=1)
        for name, picture in (("demo_image.png", image), ("demo_folder.png", folder),
                              ("demo_video_frame.png", video)):
            written[name] = atomic_write_bytes(out_dir / name, _png(picture))
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_path", type=Path, required=True, help="a body snapshot (param stage)")
    parser.add_argument("--human_model_dir", type=Path, required=True, help="the SMPL files it was trained with")
    parser.add_argument("--out_dir", type=Path, default=ROOT / "assets")
    parser.add_argument("--renderer", choices=("auto", "pyrender", "numpy"), default="auto")
    args = parser.parse_args(argv)
    for name, path in make_pictures(args.model_path, args.human_model_dir, args.out_dir, args.renderer).items():
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
