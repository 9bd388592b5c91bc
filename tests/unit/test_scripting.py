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
