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
# - PYTHON=/path/to/python picks the interpreter (default: `python` on PATH).
# - An "externally managed" interpreter (PEP 668: a file EXTERNALLY-MANAGED in its stdlib directory, outside any
#   virtual environment; e.g. Debian/Ubuntu's /usr/bin/python3) is detected before pip runs: the script prints how to
#   make a virtual or conda environment and exits with status 2. To install into such an interpreter anyway, run
#   `I2L_ALLOW_SYSTEM_PIP=1 bash requirements.sh` (pip is then run with PIP_BREAK_SYSTEM_PACKAGES=1), or set pip's
#   own PIP_BREAK_SYSTEM_PACKAGES=1, which skips the check too.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python}"
FALLBACK_TORCH="2.14.1"
FALLBACK_TORCHVISION="0.29.1"

# PEP 668 check, before any pip call. Prints the EXTERNALLY-MANAGED marker's path when the interpreter is externally
# managed (marker present and not inside a virtual environment), nothing otherwise.
EM_MARKER="$("$PYTHON" -c '
import os, sys, sysconfig
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix) or hasattr(sys, "real_prefix")
if not in_venv and os.path.isfile(marker):
    print(marker)
')" || { echo "!!! cannot run the Python interpreter '${PYTHON}' (set PYTHON=/path/to/python)" >&2; exit 1; }
is_true() { case "$1" in 1|[Tt][Rr][Uu][Ee]|[Yy][Ee][Ss]|[Yy]|[Oo][Nn]) return 0 ;; *) return 1 ;; esac; }  # bash 3.2 too
if [ -n "$EM_MARKER" ]; then
    if is_true "${I2L_ALLOW_SYSTEM_PIP:-}"; then
        echo ">>> I2L_ALLOW_SYSTEM_PIP set: installing into the externally managed ${PYTHON} anyway"
        export PIP_BREAK_SYSTEM_PACKAGES=1
    elif ! is_true "${PIP_BREAK_SYSTEM_PACKAGES:-}"; then
        cat >&2 <<EOF
!!! '${PYTHON}' is an externally managed Python (PEP 668: ${EM_MARKER}),
    so pip may not install into it. Nothing was installed. Use a virtual environment:
        python3 -m venv .venv && . .venv/bin/activate && bash requirements.sh
    (Debian/Ubuntu: sudo apt-get install python3-venv, if venv is missing), or a conda environment:
        conda create -n i2l python=3.11 && conda activate i2l && bash requirements.sh
    To install into this interpreter anyway: I2L_ALLOW_SYSTEM_PIP=1 bash requirements.sh
EOF
        exit 2
    fi
fi

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

"$PYTHON" -c "import torch, torchvision, smplx, roma, cv2, pycocotools, trimesh, scipy, tqdm, tensorboard, av; print('>>> install OK: torch', torch.__version__, '| torchvision', torchvision.__version__, '| OpenCV', cv2.__version__, '| cuda', torch.cuda.is_available())"
