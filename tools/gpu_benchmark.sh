#!/usr/bin/env bash
# The GPU speed figures in one run (run from the repository root on a CUDA machine):
#
#     bash tools/gpu_benchmark.sh [OUT_DIR]          (default: $OUT, else output/gpu_benchmark)
#
# Writes OUT_DIR/gpu.txt (the device), model_b16.{txt,json} and model_b64.{txt,json} (plain fp32 against the fast path
# in fp32, bf16 and fp16, with and without --recompute) and compile_b16.{txt,json} (fast fp32 and bf16 compiled, with
# the compile time), then runs the quick start (both training stages, test, demo) on CUDA in fp32, bf16 and fp16 and
# keeps its logs (quickstart_<amp>.txt; its snapshots go to a temporary folder).  Every command is one of the
# project's own (tools/benchmark.py model, tools/quickstart.py); this script only fixes the set the README needs.
set -euo pipefail
out="${1:-${OUT:-output/gpu_benchmark}}"
mkdir -p "$out"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device: this script measures the GPU'"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda)" | tee -a "$out/gpu.txt"
for batch in 16 64; do
    python tools/benchmark.py model --device cuda --batch_size "$batch" --amp bf16 fp16 --recompute \
        --json "$out/model_b$batch.json" 2>&1 | tee "$out/model_b$batch.txt"
done
python tools/benchmark.py model --device cuda --batch_size 16 --configs fast_fp32 fast_bf16 --compile \
    --json "$out/compile_b16.json" 2>&1 | tee "$out/compile_b16.txt"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for amp in fp32 bf16 fp16; do  # the drivers on CUDA: both training stages, the test and the demo
    python tools/quickstart.py --workdir "$work/$amp" --gpu 0 --amp "$amp" 2>&1 | tee "$out/quickstart_$amp.txt"
done
