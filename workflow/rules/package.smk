# ---------------------------------------------------------------- the package on disk
# The rules import the package from this workflow's own tree (src/ beside workflow/), in
# this process and in every job's script (PYTHONPATH is inherited): a cloned or deployed
# workflow needs no `pip install -e .`, and never picks up another installed copy.
#
# Used as a module from a local clone, the tree is on disk. Used from a git URL
# (`github(...)`, `gitlab(...)` in the deployment's `module` statement), Snakemake reads
# the workflow's files through its source cache and nothing of the repository is on the
# local disk: the files listed in workflow/package-files.txt (the package, and the sacct
# shim of common.smk) are then written, once per version of their contents, to
# .snakemake/dmlstudy-workflow/<hash>/ in the working directory, laid out as in the
# repository. tests/unit/test_package_files.py keeps the list in step with src/.

import hashlib
import os
import shutil
import sys
import tempfile


def _materialise_workflow_tree(manifest):
    """Copy the files of ``manifest`` (read through the source cache) into a local folder;
    returns the folder. Lines: ``file PATH``, ``exec PATH`` (made executable) or
    ``link PATH TARGET`` (a symbolic link), paths relative to the repository root."""
    entries = []
    with open(workflow.source_path(manifest)) as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, path, *target = line.split()
            if kind in ("file", "exec"):
                with open(workflow.source_path(f"../../{path}"), "rb") as src:
                    entries.append((kind, path, src.read()))
            elif kind == "link":
                entries.append((kind, path, target[0].encode()))
            else:
                raise ValueError(f"{manifest}: unknown entry {line!r}")
    digest = hashlib.sha256()
    for kind, path, data in entries:
        digest.update(f"{kind} {path} {len(data)}\n".encode() + data)
    parent = os.path.abspath(os.path.join(".snakemake", "dmlstudy-workflow"))
    tree = os.path.join(parent, digest.hexdigest()[:16])
    if os.path.isdir(tree):
        return tree
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    os.chmod(tmp, 0o755)
    for kind, path, data in entries:
        dest = os.path.join(tmp, path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if kind == "link":
            os.symlink(data.decode(), dest)
            continue
        with open(dest, "wb") as out:
            out.write(data)
        if kind == "exec":
            os.chmod(dest, 0o755)
    try:
        os.rename(tmp, tree)  # atomic; another process (a SLURM job) may have won
    except OSError:
        if not os.path.isdir(tree):
            raise
        shutil.rmtree(tmp)
    return tree


_here = str(workflow.current_basedir.get_path_or_uri(secret_free=True))
if os.path.isdir(_here):
    # a local clone (or a module pointed at one): the repository root, two levels up
    WORKFLOW_TREE = os.path.normpath(os.path.join(_here, "..", ".."))
else:
    WORKFLOW_TREE = _materialise_workflow_tree("../package-files.txt")

SRC = os.path.join(WORKFLOW_TREE, "src")
sys.path.insert(0, SRC)
_pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
# Jobs in a conda environment (--sdm conda) get no PYTHONPATH (Snakemake removes it there);
# envs/environment.yaml installs the package editable from DMLSTUDY_ROOT, this tree (a
# clone: a workflow used from a git URL has no pyproject.toml in its copied tree).
os.environ.update(
    PYTHONPATH=os.pathsep.join([SRC] + [p for p in _pythonpath if p != SRC]),
    DMLSTUDY_ROOT=WORKFLOW_TREE,
)
