"""``python -m tools.synthetic.demo_media --out_dir demo``: write the demo's synthetic video, detections, keypoints and
image folder (see :mod:`tools.synthetic.demo_media.files`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.synthetic.demo_media.files import write_demo_media

ROOT_DIR = Path(__file__).resolve().parents[3]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.synthetic.demo_media", description=__doc__)
    parser.add_argument("--out_dir", type=Path, default=ROOT_DIR / "demo", help="output folder (default: demo/)")
    parser.add_argument("--human_model_dir", type=Path, default=None,
                        help="SMPL-format model files (default: synthetic ones generated with seed 0)")
    args = parser.parse_args(argv)
    for key, path in write_demo_media(args.out_dir, args.human_model_dir).items():
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        for f in files:
            print(f"{key:16s} {f} ({f.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
