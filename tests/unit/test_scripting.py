"""The one script wrapper: user-facing errors become one line and exit status 1."""

import logging
import subprocess
import sys

import pytest

from dmlstudy.errors import DataNotFoundError
from dmlstudy.scripting import run_stage


def test_run_stage_turns_a_user_error_into_exit_1(caplog):
    def stage():
        raise DataNotFoundError("d", "/nowhere", ["a.txt"], "put it there")

    with caplog.at_level(logging.ERROR, logger="dmlstudy"), pytest.raises(SystemExit) as exc:
        run_stage(stage)
    assert exc.value.code == 1
    assert "dataset 'd': required files not found" in caplog.text


def test_run_stage_passes_threads_only_to_stages_that_take_them():
    assert run_stage(lambda a, threads: (a, threads), 1, threads=2) == (1, 2)
    assert run_stage(lambda a: a, 3, threads=2) == 3


def test_a_logged_error_reaches_log_file_and_console(tmp_path):
    log = tmp_path / "job.log"
    code = (
        "from dmlstudy.scripting import setup_logging, run_stage\n"
        "from dmlstudy.errors import ConfigError\n"
        f"setup_logging({str(log)!r})\n"
        "import sys; print('to the log', file=sys.stderr)\n"
        "def f(): raise ConfigError('bad key x; set it to y')\n"
        "run_stage(f)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "error: bad key x; set it to y" in proc.stderr  # the console
    text = log.read_text()
    assert "to the log" in text and "bad key x; set it to y" in text
    assert "Traceback" not in text + proc.stderr


# --------------------------------------------------------------------------- bad inputs
def _job(tmp_path, body: str) -> tuple[subprocess.CompletedProcess, str]:
    """Run ``body`` as a job would (its log a file, the console the process's stderr)."""
    log = tmp_path / "job.log"
    code = f"from dmlstudy.scripting import setup_logging, run_stage\nsetup_logging({str(log)!r})\n"
    proc = subprocess.run(
        [sys.executable, "-c", code + body], capture_output=True, text=True, timeout=60
    )
    return proc, log.read_text()


def test_a_warning_of_the_package_reaches_log_and_console(tmp_path):
    """Case 8 and the health check: a warning must not hide in the job log. Only the
    package's own warnings go to the console; its INFO lines stay in the log."""
    proc, log = _job(
        tmp_path,
        "import logging\n"
        "logging.getLogger('dmlstudy.train').info('epoch 1 of 50')\n"
        "logging.getLogger('dmlstudy.train').warning('checkpoint unreadable; from scratch')\n"
        "logging.getLogger('somelib').warning('not ours')\n",
    )
    assert proc.returncode == 0
    assert "warning: checkpoint unreadable; from scratch" in proc.stderr
    assert "epoch 1 of 50" not in proc.stderr and "not ours" not in proc.stderr
    assert str(tmp_path / "job.log") in proc.stderr  # where to read more
    assert "epoch 1 of 50" in log and "checkpoint unreadable" in log and "not ours" in log


@pytest.mark.parametrize("sig, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupted_job_logs_one_line_and_exits_with_the_signal_status(tmp_path, sig, status):
    """Case 5: Ctrl-C (SIGINT) or a scheduler's SIGTERM ends a job with one line in its log
    (which Snakemake prints) and status 128 + signal, never a KeyboardInterrupt traceback."""
    proc, log = _job(
        tmp_path,
        "import os, signal, time\n"
        "def stage():\n"
        f"    os.kill(os.getpid(), signal.{sig})\n"
        "    time.sleep(30)\n"
        "run_stage(stage)\n",
    )
    assert proc.returncode == status, proc.stderr + log
    assert "Traceback" not in log + proc.stderr and "KeyboardInterrupt" not in log + proc.stderr
    lines = [line for line in log.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and f"interrupted by {sig}" in lines[0], log
    assert "rerun the same command" in lines[0]
