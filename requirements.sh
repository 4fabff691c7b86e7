#!/usr/bin/env bash
# One-shot, idempotent install of everything this codebase needs into the *current* Python environment.
#   bash requirements.sh
# - torch + torchvision: an installed pair that imports together is kept (CPU or CUDA build of your choice).
#   With torch alone, the torchvision release matching it is added; where that pair cannot import (for example a
#   CPU-only local torch 2.13.0 wheel beside PyPI's torchvision), or no torch is installed, the pair
#   torch==2.14.1 torchvision==0.29.1 is installed.
# - the rest: requirements.txt, constrained to the installed torch/torchvision so pip never swaps them.
# - OSMesa (CPU rendering for pyrender): Debian/Ubuntu package libosmesa6, installed with apt when missing and
#   running as root; otherwise the command to run is printed.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python}"
FALLBACK_TORCH="2.14.1"
FALLBACK_TORCHVISION="0.29.1"

pair_imports() { "$PYTHON" -c "import torch, torchvision; torchvision.ops.nms" >/dev/null 2>&1; }

if ! pair_imports; then
    if "$PYTHON" -c "import torch" >/dev/null 2>&1; then
        # torchvision 0.(minor+15).patch goes with torch 2.minor.patch (0.29.1 <-> 2.14.1).
        TV_MATCH="$("$PYTHON" -c "import torch; v = torch.__version__.split('+')[0].split('.'); print(f'0.{int(v[1]) + 15}.{v[2]}')")"
        echo ">>> torch found without a working torchvision: trying torchvision==${TV_MATCH}"
        "$PYTHON" -m pip install "torchvision==${TV_MATCH}" --no-deps || true
    fi
    if ! pair_imports; then
        echo ">>> installing torch==${FALLBACK_TORCH} torchvision==${FALLBACK_TORCHVISION}"
        "$PYTHON" -m pip install "torch==${FALLBACK_TORCH}" "torchvision==${FALLBACK_TORCHVISION}"
    fi
fi
pair_imports || { echo "!!! torch and torchvision still do not import together"; exit 1; }
read -r TORCH_VERSION TV_VERSION < <("$PYTHON" -c "import torch, torchvision; print(torch.__version__.split('+')[0], torchvision.__version__.split('+')[0])")
echo ">>> torch ${TORCH_VERSION}, torchvision ${TV_VERSION}"

constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
printf 'torch==%s\ntorchvision==%s\n' "$TORCH_VERSION" "$TV_VERSION" > "$constraints"
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

"$PYTHON" -c "import torch, torchvision, smplx, roma, cv2, pycocotools, trimesh, scipy, tqdm, tensorboard; print('>>> install OK: torch', torch.__version__, '| torchvision', torchvision.__version__, '| OpenCV', cv2.__version__, '| cuda', torch.cuda.is_available())"
