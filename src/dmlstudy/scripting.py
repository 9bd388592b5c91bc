"""The one wrapper of every Snakemake script: stderr to the rule's log, threads pinned, and a
user-facing error (missing data, corrupt file, diverged loss, bad device) turned into one
clear line on the log and the console and exit status 1, instead of a traceback.

Every script under ``workflow/scripts`` is one call of :func:`run_job`, which names the
package function the job runs (``"module:function"``)."""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
from pathlib import Path

from .errors import DmlStudyError

log = logging.getLogger("dmlstudy")

_console = None


def setup_logging(log_path: str | os.PathLike | None = None) -> None:
    """Send stderr (log lines, progress bars, warnings, tracebacks) to the rule's log file
    when given, as the first thing a Snakemake script does; Snakemake prints that log when
    a job fails. File descriptor 2 is redirected too, so output of C extensions and child
    processes reaches the log."""
    global _console
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        _console = os.fdopen(os.dup(2), "w", buffering=1)
        fh = open(log_path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
        os.dup2(fh.fileno(), 2)
        sys.stderr = fh
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=[logging.StreamHandler(sys.stderr)],
        force=True,
    )


def set_threads(threads: int) -> None:
    """Pin the job's compute threads, so parallel Snakemake jobs never oversubscribe cores.

    torch is pinned only if this job has imported it (jobs on saved embeddings never do);
    BLAS pools (numpy, scipy, faiss) through threadpoolctl."""
    threads = max(1, int(threads))
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already set once in this process
            pass
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)


def run_stage(fn, *args, threads: int = 1, **kwargs):
    """Run one stage from a Snakemake script with its threads pinned; a ``DmlStudyError``
    becomes one line on the log (and the console, when the log is a file) and exit 1."""
    set_threads(threads)
    try:
        if "threads" in inspect.signature(fn).parameters:
            kwargs = {"threads": threads, **kwargs}
        return fn(*args, **kwargs)
    except DmlStudyError as exc:
        log.error("%s", exc)
        if _console is not None:
            print(f"error: {exc}", file=_console, flush=True)
        sys.exit(1)


def run_job(snakemake, target: str, *args, **kwargs):
    """Run one Snakemake job: its log set up first (so import-time warnings reach it), the
    config's ``plugins`` loaded (:mod:`dmlstudy.plugins`), then ``target`` (``"package.module:function"``) imported and called through
    :func:`run_stage` with the job's threads. Without ``args`` the function gets the job's
    ``(input, output, params)``."""
    setup_logging(snakemake.log[0] if snakemake.log else None)
    from . import __version__
    from .plugins import load as load_plugins

    # which copy of the package ran (the workflow's own tree: workflow/rules/package.smk)
    log.info("dmlstudy %s from %s", __version__, Path(__file__).resolve().parent)

    # the config's plugins register their losses, samplers, sources, backbones first
    run_stage(load_plugins, (getattr(snakemake, "config", None) or {}).get("plugins"))
    module, _, name = target.partition(":")
    fn = getattr(importlib.import_module(module), name)
    if not args:
        args = (snakemake.input, snakemake.output, snakemake.params)
    return run_stage(fn, *args, threads=snakemake.threads, **kwargs)
