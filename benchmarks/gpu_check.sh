#!/usr/bin/env bash
# GPU check of the paper's workload (docs/benchmarks.md): training steps (MLP; CNN on MNIST- and
# CIFAR-size images; the ViT head), ViT-B/32-size feature extraction on synthetic images,
# evaluation; prints per-step times and the projected time of config/paper.yaml.
#
#   benchmarks/gpu_check.sh                 # on a GPU machine: about 3-5 min, capped at 7.5
#   benchmarks/gpu_check.sh --quick         # tiny sizes, runs on a CPU in about a minute
#   benchmarks/gpu_check.sh --out DIR       # results folder (default results/benchmarks/gpu_check)
#
# Needs the project's environment (torch with CUDA, torchvision, faiss-cpu); no data files
# and no network. Writes DIR/gpu_check.json and DIR/gpu_check.log.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
if [[ -z "${VIRTUAL_ENV:-}" && -f .venv/bin/activate ]]; then
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1
OUT="results/benchmarks/gpu_check"
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
mkdir -p "$OUT"
{
  date -Iseconds
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'GPU visible:', torch.cuda.is_available())"
  timeout -s KILL 450 python benchmarks/gpu_check.py --out "$OUT" "${ARGS[@]}"
  rc=$?
  [[ $rc -eq 137 ]] && echo "gpu_check: stopped at the 7.5 min cap"
  exit $rc
} 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"
