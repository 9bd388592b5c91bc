"""The one wrapper of every Snakemake script: stderr to the rule's log, threads pinned, and a
user-facing error (missing data, corrupt file, diverged loss, bad device) turned into one
clear line on the log and the console and exit status 1, instead of a traceback.

The package's warnings (a damaged checkpoint, a run's failed health check, a class of one
point) also reach the console, each as one line naming the job's log. An interrupt (Ctrl-C:
SIGINT; a scheduler's SIGTERM) ends the job with one line in its log and exit status
128 + signal number, instead of a KeyboardInterrupt traceback that Snakemake would print
with the whole log.

Every script under ``workflow/scripts`` is one call of :func:`run_job`, which names the
package function the job runs (``"module:function"``)."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from .errors import DmlStudyError

log = logging.getLogger("dmlstudy")

_console = None
_console_handler: logging.Handler | None = None


class _OnlyWarnings(logging.Filter):
    """WARNING records only: errors reach the console through run_stage's own line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno == logging.WARNING


def setup_logging(log_path: str | os.PathLike | None = None) -> None:
    """Send stderr (log lines, progress bars, warnings, tracebacks) to the rule's log file
    when given, as the first thing a Snakemake script does; Snakemake prints that log when
    a job fails. File descriptor 2 is redirected too, so output of C extensions and child
    processes reaches the log. The package's WARNING lines also go to the console, as
    ``warning: <message> (log: <log file>)``."""
    global _console, _console_handler
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
    package = logging.getLogger("dmlstudy")
    if _console_handler is not None:
        package.removeHandler(_console_handler)
        _console_handler = None
    if log_path:
        _console_handler = logging.StreamHandler(_console)
        _console_handler.addFilter(_OnlyWarnings())
        _console_handler.setFormatter(logging.Formatter(f"warning: %(message)s (log: {log_path})"))
        package.addHandler(_console_handler)


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


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler cancelling or pre-empting the job), raised like Ctrl-C's
    KeyboardInterrupt so that the job stops the same way."""


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def interrupts_end_the_job():
    """Within: SIGINT (KeyboardInterrupt) and SIGTERM end the job with one log line and
    exit status 128 + signal number (130, 143). Nothing is lost by stopping: outputs are
    written atomically, and a training job resumes from its last complete epoch."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except KeyboardInterrupt as exc:
        sig = signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT
        log.error(
            "interrupted by %s: the job stopped before writing its outputs. To continue, "
            "rerun the same command (after a killed Snakemake, `snakemake --unlock` first); "
            "a training job resumes from its last complete epoch.",
            sig.name,
        )
        sys.exit(128 + sig.value)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def run_stage(fn, *args, threads: int = 1, **kwargs):
    """Run one stage from a Snakemake script with its threads pinned; a ``DmlStudyError``
    becomes one line on the log (and the console, when the log is a file) and exit 1; an
    interrupt one line on the log and exit 128 + signal (:func:`interrupts_end_the_job`)."""
    with interrupts_end_the_job():
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
    with interrupts_end_the_job():  # Ctrl-C during the imports (torch: seconds) too
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
