#!/usr/bin/env bash
# One-command set-up: a virtual environment in .venv with the pinned packages and this
# project installed editable, and (where sbatch exists) the SLURM profile.
# Usage: bash envs/setup.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
python="${PYTHON:-python3}"
"$python" - <<'PY'
import sys
if sys.version_info[:2] != (3, 11):
    sys.exit(f"envs/requirements.txt is pinned for Python 3.11; found {sys.version.split()[0]}. "
             "Set PYTHON=/path/to/python3.11 and rerun.")
PY
if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
echo "installing pinned packages from envs/requirements.txt (about 2 minutes)"
"$venv/bin/python" -m pip install --quiet -r envs/requirements.txt
"$venv/bin/python" -m pip install --quiet --no-deps -e .
"$venv/bin/python" -c "import torch, snakemake, dmlstudy; print('environment ready: torch', torch.__version__, '| dmlstudy', dmlstudy.__version__)"
# On a SLURM login node: the project's profile, so that `snakemake --profile slurm` works
# (never overwrites an existing ~/.config/snakemake/slurm; see docs/slurm.md).
if command -v sbatch >/dev/null 2>&1; then
    bash envs/install_slurm_profile.sh
else
    echo "no sbatch here; on a SLURM cluster run: bash envs/install_slurm_profile.sh"
fi
echo "activate with: source $venv/bin/activate"
