#!/usr/bin/env bash
# One-shot, idempotent install of everything this codebase needs into the *current* Python environment.
#   bash requirements.sh
# - torch: kept as is when already installed (CPU or CUDA build of your choice); otherwise torch==2.13.0 is
#   installed (pip picks a local wheel when your pip config provides one, else PyPI's default build).
# - the rest: requirements.txt, constrained to the installed torch so pip never swaps it.
# - OSMesa (CPU rendering for pyrender): Debian/Ubuntu package libosmesa6, installed with apt when missing and
#   running as root; otherwise the command to run is printed.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python}"

if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo ">>> installing torch==2.13.0"
    "$PYTHON" -m pip install "torch==2.13.0"
fi
TORCH_VERSION="$("$PYTHON" -c "import torch; print(torch.__version__.split('+')[0])")"
echo ">>> torch ${TORCH_VERSION}"

constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
echo "torch==${TORCH_VERSION}" > "$constraints"
"$PYTHON" -m pip install -r requirements.txt -c "$constraints"

if ! ldconfig -p 2>/dev/null | grep -q libOSMesa; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo ">>> installing libosmesa6 (CPU OpenGL for rendering)"
        (apt-get install -y --no-install-recommends libosmesa6 >/dev/null 2>&1 \
            || { apt-get update >/dev/null && apt-get install -y --no-install-recommends libosmesa6 >/dev/null; }) \
            || echo "!!! could not install libosmesa6; rendering on CPU will not work (everything else does)"
    else
        echo "!!! libOSMesa not found: rendering on CPU needs it. Run: sudo apt-get install libosmesa6"
    fi
fi

"$PYTHON" -c "import torch, smplx, roma, cv2, pycocotools, trimesh, scipy, tqdm; print('>>> install OK: torch', torch.__version__, '| cuda', torch.cuda.is_available())"
