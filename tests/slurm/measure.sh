#!/usr/bin/env bash
# Count sbatch submissions and wall time of one workflow run through the local cluster.
#
#   tests/slurm/measure.sh CONFIG OUTDIR [extra snakemake args...]
#
# Runs exactly `snakemake --profile slurm` (the profile installed by
# envs/install_slurm_profile.sh into a private XDG_CONFIG_HOME under OUTDIR) in an empty
# --directory OUTDIR/work, with the fast polling the local test cluster allows.  Prints
# one line: submissions, array submissions, jobs, wall seconds.  Needs `cluster.sh up`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
config=$(realpath "$1")
out=$2
shift 2
limit=${DMLSTUDY_SLURM_RUN_LIMIT:-1800}
rm -rf "$out"
mkdir -p "$out/work" "$out/xdg"
XDG_CONFIG_HOME="$out/xdg" bash "$repo/envs/install_slurm_profile.sh" >/dev/null
export XDG_CONFIG_HOME="$out/xdg" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
unset SLURM_CONF
t0=$(date +%s.%N)
rc=0
(cd "$repo" && timeout -s KILL "$limit" snakemake --profile slurm -s "$repo/workflow/Snakefile" \
    --configfile "$config" --directory "$out/work" --nocolor \
    --slurm-init-seconds-before-status-checks 2 --latency-wait 5 all "$@") \
    >"$out/snakemake.out" 2>&1 || rc=$?
t1=$(date +%s.%N)
single=$(grep -c "has been submitted with SLURM jobid" "$out/snakemake.out" || true)
arrays=$(grep -c "Submitted array job with" "$out/snakemake.out" || true)
jobs=$(grep -E "^total +[0-9]+" "$out/snakemake.out" | head -1 | awk '{print $2}' || true)
printf 'rc=%s submissions=%s (arrays %s, single %s) jobs=%s wall_s=%.0f args=%s\n' \
    "$rc" $((single + arrays)) "$arrays" "$single" "${jobs:-?}" "$(echo "$t1 - $t0" | bc)" "$*" \
    | tee -a "$out/../measure.log"
if [[ $rc != 0 ]]; then
    tail -30 "$out/snakemake.out" >&2
    grep -ho "SLURM run ID: \S*" "$out/snakemake.out" | awk '{print $4}' | sort -u \
        | xargs -r -n1 timeout 15 scancel --name || true
fi
exit "$rc"
