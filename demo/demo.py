"""I2L-MeshNet demo on one image: ``cd demo && python demo.py --gpu 0 --stage param --test_epoch 8``.

Reads ``input.jpg`` and ``snapshot_<epoch>.pth.tar`` from this folder (or ``--img``, ``--model_path``) and writes
``output_mesh_{lixel,param}.{jpg,obj}`` and ``rendered_mesh_{lixel,param}.jpg`` into the working directory (or
``--out_dir``).  ``python demo.py --help`` lists every flag; the logic lives in :mod:`main.predictor.run`.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.allocator import enable_huge_pages  # noqa: E402

enable_huge_pages()  # before torch is imported (common/allocator.py)

from main.predictor.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
