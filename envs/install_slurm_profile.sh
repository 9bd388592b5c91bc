#!/usr/bin/env bash
# Install this project's SLURM profile where `snakemake --profile slurm` finds it:
# ${XDG_CONFIG_HOME:-~/.config}/snakemake/slurm (Snakemake looks a bare profile name up
# there and in /etc/xdg/snakemake).  Never overwrites: if a `slurm` profile is already
# there (yours, or a copy of this one), it says so, shows the difference and how to merge,
# and exits 0 without touching it.
#
#   bash envs/install_slurm_profile.sh            # install (or report the existing one)
#   bash envs/install_slurm_profile.sh --check    # only report; exit 1 if none installed
#
# The profile holds site settings (executor, jobs, retries, polling, account and partition
# defaults) and the aggregation group.  Per-rule resources and job arrays are in the rules
# and the workflow profile profiles/default, so a site-wide slurm profile works as well.
set -euo pipefail
cd "$(dirname "$0")/.."
src=profiles/slurm
base="${XDG_CONFIG_HOME:-$HOME/.config}/snakemake"
dest="$base/slurm"
site=/etc/xdg/snakemake/slurm

existing=""
for f in profile.yaml config.yaml; do
    [[ -e $dest/$f ]] && existing="$dest/$f" && break
done

if [[ -n $existing ]]; then
    if cmp -s "$existing" "$src/config.yaml"; then
        echo "SLURM profile: $existing is already this project's profile; nothing to do."
        exit 0
    fi
    cat <<EOF
SLURM profile: $existing already exists and differs from this project's
$src/config.yaml. It was left as it is.
  - To use yours: nothing to do; 'snakemake --profile slurm all' reads it. It needs
    'executor: slurm'; rule resources and job arrays come from the workflow itself.
  - To merge: compare the two (diff below) and copy the settings you want into yours,
    in particular 'retries' (a cancelled job is resubmitted and resumes from its
    checkpoint), 'show-failed-logs', and 'groups'/'group-components' (the five
    aggregation jobs as one SLURM job).
  - To use this project's profile for one run: snakemake --profile $PWD/$src all
  - To replace yours: move it away (mv "$dest" "$dest.bak") and rerun this script.
--- diff -u $existing $src/config.yaml
EOF
    diff -u "$existing" "$src/config.yaml" || true
    exit 0
fi

if [[ ${1:-} == --check ]]; then
    echo "SLURM profile: none in $dest"
    exit 1
fi
if [[ -d $site && -z ${DMLSTUDY_PROFILE_FORCE:-} ]]; then
    echo "SLURM profile: a site-wide profile exists in $site ('snakemake --profile slurm' uses"
    echo "yours in $dest first). Installing this project's profile would shadow it for you;"
    echo "not installed. Set DMLSTUDY_PROFILE_FORCE=1 to install it anyway."
    exit 0
fi
mkdir -p "$dest"
cp "$src/config.yaml" "$dest/config.yaml"
echo "SLURM profile installed: $dest/config.yaml (run: snakemake --profile slurm all)"
