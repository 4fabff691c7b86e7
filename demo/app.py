"""I2L-MeshNet in the browser: ``python demo/app.py --model_path SNAPSHOT`` serves http://127.0.0.1:7860.

Upload an image or a video (or pick the bundled example), look at the meshes in 3D, download the results.  The
snapshot and the demo's model flags (``--human_model_dir``, ``--hand_model_path``, ``--amp``, ``--stage``) are fixed
at start-up; ``python demo/app.py --help`` lists every flag; docs/webapp.md tells the rest.  The logic lives in
:mod:`main.predictor.webapp`.
"""
import os
import sys
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before anything imports gradio: no telemetry, no version check
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.allocator import enable_huge_pages  # noqa: E402

enable_huge_pages()  # before torch is imported (common/allocator.py)

from main.predictor.webapp import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
