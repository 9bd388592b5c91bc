"""Resumable training and determinism.

A training job killed with SIGKILL resumes from its last complete epoch and ends bit for
bit where an uninterrupted run with the same seed ends; two runs of the same config and
seed on the CPU agree exactly.

What can never agree: the wall-clock columns. ``history.csv``'s ``seconds`` (time of each
epoch) and ``metrics.json``'s ``train_seconds`` (their sum) measure the machine, not the
computation, so every comparison here leaves exactly those two out and compares
everything else exactly (no tolerance).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import (
    CONFIG_DIR,
    TINY_CONFIG,
    load_yaml,
    output_of,
    require_success,
    run_outputs,
    run_snakemake,
    snakemake_args,
    snakemake_env,
)

from dmlstudy import config as C
from dmlstudy import evaluate, runs, sources
from dmlstudy import params as P

RESUME_CONFIG = CONFIG_DIR / "resume.yaml"
EXPERIMENT, LOSS, SEED = "synthetic_mlp", "contrastive", 0
RESULT_FILES = ("model", "history", "embeddings", "config")
WALL_CLOCK_HISTORY = "seconds"
WALL_CLOCK_METRICS = "train_seconds"

#: A training job in a fresh process, as a Snakemake job would run it (log to a file).
CHILD = """
import json, sys
from dmlstudy.runs import train_run
from dmlstudy.scripting import run_stage, setup_logging
args = json.load(open(sys.argv[1]))
setup_logging(args.pop("log"))
run_stage(train_run, **args)
"""


def history(path) -> pd.DataFrame:
    return pd.read_csv(path)


def assert_same_history(a, b) -> None:
    """Equal in every column but the wall-clock ``seconds``, exactly."""
    ha, hb = history(a), history(b)
    assert list(ha.columns) == list(hb.columns)
    pd.testing.assert_frame_equal(
        ha.drop(columns=WALL_CLOCK_HISTORY), hb.drop(columns=WALL_CLOCK_HISTORY), check_exact=True
    )


def metrics_without_clock(path) -> dict:
    m = json.loads(Path(path).read_text())
    assert WALL_CLOCK_METRICS in m
    del m[WALL_CLOCK_METRICS]
    return m


def assert_same_embeddings(a, b) -> None:
    with h5py.File(a) as fa, h5py.File(b) as fb:
        for split in ("train", "test"):
            for name in ("x", "y"):
                assert np.array_equal(fa[split][name][()], fb[split][name][()]), (
                    f"{split}/{name} differ"
                )


def assert_same_model(a, b) -> None:
    sa = torch.load(a, weights_only=False)["state_dict"]
    sb = torch.load(b, weights_only=False)["state_dict"]
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def checkpoint_epoch(path) -> int | None:
    try:
        return int(torch.load(path, weights_only=False)["epoch"])
    except Exception:  # not there yet, or being replaced this instant
        return None


def kill_after_first_epoch(
    proc: subprocess.Popen, checkpoint: Path, group: bool, timeout=300
) -> int:
    """SIGKILL ``proc`` (its whole process group when ``group``) as soon as ``checkpoint``
    holds a trained epoch (>= 1); returns that epoch. Training goes on meanwhile, so the
    kill lands at an arbitrary point of a later epoch (or of a checkpoint write)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"the training process ended (exit {proc.returncode}) before it could be killed"
            )
        epoch = checkpoint_epoch(checkpoint) if checkpoint.exists() else None
        if epoch is not None and epoch >= 1:
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.wait()
            return epoch
        time.sleep(0.005)
    proc.kill()
    pytest.fail("no checkpoint with a trained epoch appeared")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The resume config's data file and one uninterrupted run (in this process)."""
    root = tmp_path_factory.mktemp("resume_reference")
    cfg = C.validate(load_yaml(RESUME_CONFIG))
    data = root / "data" / "synthetic.h5"
    sources.prepare_to_file(cfg["datasets"]["synthetic"], "synthetic", data)
    resolved = P.training_params(cfg, EXPERIMENT)
    ev = P.evaluation_params(cfg, EXPERIMENT)
    run = root / "uninterrupted"
    out = run_outputs(run)
    runs.train_run(data, resolved, LOSS, SEED, out, run / "checkpoint.pt", threads=1)
    evaluate.evaluate_run(out["embeddings"], out["history"], ev, run / "metrics.json")
    return {
        "cfg": cfg,
        "data": data,
        "resolved": resolved,
        "evaluation": ev,
        "outputs": out,
        "metrics": run / "metrics.json",
        "epochs": resolved["training"]["epochs"],
    }


def _child_args(ref, run: Path, **override) -> dict:
    args = {
        "data_path": str(ref["data"]),
        "resolved": ref["resolved"],
        "loss": LOSS,
        "seed": SEED,
        "outputs": run_outputs(run),
        "checkpoint": str(run / "checkpoint.pt"),
        "threads": 1,
        "log": str(run / "train.log"),
    }
    args.update(override)
    return args


def _start_child(args: dict, argfile: Path) -> subprocess.Popen:
    argfile.write_text(json.dumps(args))
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(argfile)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=snakemake_env(),
    )


# --------------------------------------------------------------------------- item 3: resume
def test_sigkill_then_rerun_resumes_and_matches_uninterrupted_run(reference, tmp_path):
    run = tmp_path / "run"
    ckpt = run / "checkpoint.pt"
    args = _child_args(reference, run)
    proc = _start_child(args, tmp_path / "args.json")
    killed_after = kill_after_first_epoch(proc, ckpt, group=False)
    assert proc.returncode == -signal.SIGKILL

    # nothing that looks finished was left behind; the checkpoint is readable
    for name in RESULT_FILES:
        assert not Path(args["outputs"][name]).exists(), name
    last = checkpoint_epoch(ckpt)
    assert last is not None and killed_after <= last < reference["epochs"], (killed_after, last)

    # the same command again resumes after the checkpoint's epoch and finishes
    proc = _start_child(args, tmp_path / "args.json")
    assert proc.wait(timeout=600) == 0, (run / "train.log").read_text()
    log = (run / "train.log").read_text()
    assert f"resuming from {ckpt} after epoch {last}" in log
    assert f"epoch {last:3d}/" not in log  # the saved epochs are not trained again
    assert f"epoch {last + 1:3d}/" in log

    evaluate.evaluate_run(
        args["outputs"]["embeddings"],
        args["outputs"]["history"],
        reference["evaluation"],
        run / "metrics.json",
    )
    ref = reference["outputs"]
    assert_same_history(args["outputs"]["history"], ref["history"])
    assert_same_embeddings(args["outputs"]["embeddings"], ref["embeddings"])
    assert_same_model(args["outputs"]["model"], ref["model"])
    assert metrics_without_clock(run / "metrics.json") == metrics_without_clock(
        reference["metrics"]
    )


def test_checkpoint_of_another_config_is_not_resumed(reference, tmp_path, caplog):
    """A leftover checkpoint from a different margin must not leak into this run."""
    run = tmp_path / "run"
    other = json.loads(json.dumps(reference["resolved"]))
    other["loss"]["margin"] = 0.5
    other["training"]["epochs"] = 2
    runs.train_run(
        reference["data"], other, LOSS, SEED, run_outputs(tmp_path / "other"), run / "checkpoint.pt"
    )
    with caplog.at_level("INFO", logger="dmlstudy.train"):
        runs.train_run(
            reference["data"],
            reference["resolved"],
            LOSS,
            SEED,
            run_outputs(run),
            run / "checkpoint.pt",
        )
    assert "belongs to another configuration; starting fresh" in caplog.text
    assert "resuming" not in caplog.text
    assert_same_history(run_outputs(run)["history"], reference["outputs"]["history"])


def test_damaged_checkpoint_means_a_fresh_start_not_a_wrong_result(reference, tmp_path, caplog):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"PK\x03\x04 this is not a checkpoint")
    with caplog.at_level("INFO", logger="dmlstudy.train"):
        runs.train_run(
            reference["data"],
            reference["resolved"],
            LOSS,
            SEED,
            run_outputs(run),
            run / "checkpoint.pt",
        )
    assert "unreadable" in caplog.text and "training from scratch" in caplog.text
    assert_same_history(run_outputs(run)["history"], reference["outputs"]["history"])
    assert_same_model(run_outputs(run)["model"], reference["outputs"]["model"])


@pytest.mark.slow
def test_snakemake_job_killed_and_rerun_resumes(reference, tmp_path):
    """The same through Snakemake: SIGKILL the whole ``snakemake`` process group while the
    training job runs. checkpoint.pt is not a Snakemake output, so it survives; after the
    documented ``--unlock`` (a killed Snakemake leaves its lock behind) the same command
    resumes the job and the final metrics equal the uninterrupted run's."""
    workdir = tmp_path / "wd"
    run = workdir / "results" / "runs" / EXPERIMENT / LOSS / f"seed{SEED}"
    target = f"results/runs/{EXPERIMENT}/{LOSS}/seed{SEED}/metrics.json"
    cmd = [*snakemake_args(RESUME_CONFIG), "--directory", str(workdir), target]
    with open(tmp_path / "first.out", "w") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=snakemake_env(), start_new_session=True
        )
        last = kill_after_first_epoch(proc, run / "checkpoint.pt", group=True)
    assert last < reference["epochs"]
    assert not (run / "history.csv").exists() and not (run / "metrics.json").exists()

    require_success(run_snakemake(workdir, RESUME_CONFIG, "--unlock"), "snakemake --unlock")
    proc = run_snakemake(workdir, RESUME_CONFIG, target)
    require_success(proc, "the rerun after the kill")
    log = (
        workdir / "results" / "logs" / "train" / EXPERIMENT / LOSS / f"seed{SEED}.log"
    ).read_text()
    assert (
        "resuming from results/runs/synthetic_mlp/contrastive/seed0/checkpoint.pt after epoch"
        in log
    ), log

    # Snakemake's own data file is the in-process one bit for bit, so the runs are comparable
    with (
        h5py.File(workdir / "results" / "data" / "synthetic.h5") as a,
        h5py.File(reference["data"]) as b,
    ):
        assert np.array_equal(a["train/x"][()], b["train/x"][()])
    assert_same_history(run / "history.csv", reference["outputs"]["history"])
    assert_same_embeddings(run / "embeddings.h5", reference["outputs"]["embeddings"])
    assert metrics_without_clock(run / "metrics.json") == metrics_without_clock(
        reference["metrics"]
    )
    # and the workflow now considers everything up to date
    dry = run_snakemake(workdir, RESUME_CONFIG, "-n", target)
    assert dry.returncode == 0 and "Nothing to be done" in output_of(dry), output_of(dry)


# --------------------------------------------------------------------------- item 4: determinism
def test_two_runs_same_seed_are_identical(reference, tmp_path):
    """Two runs of the same config and seed on the CPU: identical history.csv except its
    wall-clock ``seconds`` column (epoch timings can never repeat exactly), identical
    embeddings and weights, identical metrics.json except ``train_seconds`` (the sum of
    those timings)."""
    run = tmp_path / "again"
    out = run_outputs(run)
    runs.train_run(
        reference["data"], reference["resolved"], LOSS, SEED, out, run / "checkpoint.pt", threads=1
    )
    evaluate.evaluate_run(
        out["embeddings"], out["history"], reference["evaluation"], run / "metrics.json"
    )
    assert_same_history(out["history"], reference["outputs"]["history"])
    assert_same_embeddings(out["embeddings"], reference["outputs"]["embeddings"])
    assert_same_model(out["model"], reference["outputs"]["model"])
    assert metrics_without_clock(run / "metrics.json") == metrics_without_clock(
        reference["metrics"]
    )
    # the wall-clock column exists and is the only thing left out
    assert history(out["history"])[WALL_CLOCK_HISTORY].gt(0).all()


def test_another_seed_differs(reference, tmp_path):
    """The comparisons above are not vacuous: seed 1 gives another history."""
    out = run_outputs(tmp_path / "seed1")
    runs.train_run(
        reference["data"], reference["resolved"], LOSS, 1, out, tmp_path / "seed1" / "ck.pt"
    )
    a = history(out["history"]).drop(columns=WALL_CLOCK_HISTORY)
    b = history(reference["outputs"]["history"]).drop(columns=WALL_CLOCK_HISTORY)
    assert not a.equals(b)


@pytest.mark.slow
@pytest.mark.parametrize(
    "experiment, loss, seed", [("synthetic_mlp", "triplet", 1), ("digits_cnn", "contrastive", 0)]
)
def test_workflow_run_equals_a_direct_run(tiny_run, tmp_path, experiment, loss, seed):
    """A run made by a Snakemake job (tiny_run) and the same run made again by a direct call
    in another process agree exactly (MLP on vectors and CNN on images)."""
    cfg = C.validate(load_yaml(TINY_CONFIG))
    resolved = P.training_params(cfg, experiment)
    data = tiny_run / "results" / "data" / f"{cfg['experiments'][experiment]['dataset']}.h5"
    made = tiny_run / "results" / "runs" / experiment / loss / f"seed{seed}"
    out = run_outputs(tmp_path)
    runs.train_run(
        data, resolved, loss, seed, out, tmp_path / "checkpoint.pt", threads=cfg["threads"]["train"]
    )
    evaluate.evaluate_run(
        out["embeddings"],
        out["history"],
        P.evaluation_params(cfg, experiment),
        tmp_path / "metrics.json",
    )
    assert_same_history(out["history"], made / "history.csv")
    assert_same_embeddings(out["embeddings"], made / "embeddings.h5")
    assert_same_model(out["model"], made / "model.pt")
    assert metrics_without_clock(tmp_path / "metrics.json") == metrics_without_clock(
        made / "metrics.json"
    )


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.slow
def test_ctrl_c_is_short_on_the_console_and_the_rerun_resumes(tmp_path):
    """Case 5: Ctrl-C (SIGINT to Snakemake's process group) while two training jobs run used
    to print both jobs' full logs (one line per epoch) and two KeyboardInterrupt tracebacks.
    Now each job stops with one line, the console stays short, and the plain rerun resumes.
    Case 8: a damaged checkpoint is said on the console of the rerun, not only in the job's
    log, and that job restarts from scratch. Both end exactly where uninterrupted runs end."""
    cfg = load_yaml(RESUME_CONFIG)
    cfg["losses"] = ["contrastive", "triplet"]
    cfg["training"]["epochs"] = epochs = 200  # long enough that both jobs are mid-training
    configfile = tmp_path / "two_losses.yaml"
    configfile.write_text(yaml.safe_dump(cfg))
    workdir = tmp_path / "wd"
    runs_dir = workdir / "results" / "runs" / EXPERIMENT
    checkpoints = [runs_dir / lo / f"seed{SEED}" / "checkpoint.pt" for lo in cfg["losses"]]
    cmd = [*snakemake_args(configfile), "--directory", str(workdir), "all"]
    with open(tmp_path / "first.out", "w") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=snakemake_env(), start_new_session=True
        )
        deadline = time.monotonic() + 300
        while not all(c.exists() for c in checkpoints):  # both jobs are training
            assert proc.poll() is None, (tmp_path / "first.out").read_text()
            assert time.monotonic() < deadline, "no training job started"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    console = (tmp_path / "first.out").read_text()
    assert proc.returncode != 0
    assert "Traceback" not in console and "KeyboardInterrupt" not in console, console
    per_job = len(re.findall(rf"epoch +\d+/{epochs}", console)) / 2
    assert per_job <= 4, console  # a few progress lines per job, not one per epoch
    # Snakemake's banner, DAG and job blocks, and each interrupted job's error block with its
    # log (about 35 lines a job; two jobs run), not 200 epochs of progress
    assert len(console.splitlines()) < 160, console
    logs = workdir / "results" / "logs" / "train" / EXPERIMENT
    for loss in cfg["losses"]:
        log = (logs / loss / "seed0.log").read_text()
        assert log.count("interrupted by SIGINT") == 1 and "Traceback" not in log, log
        assert "rerun the same command" in log
        assert not (runs_dir / loss / f"seed{SEED}" / "history.csv").exists()

    damaged = checkpoints[1]
    damaged.write_bytes(b"PK\x03\x04 not a checkpoint")
    proc = run_snakemake(workdir, configfile, "all")  # the same command, nothing else
    require_success(proc, "the rerun after Ctrl-C")
    out = output_of(proc)
    assert re.search(
        rf"warning: checkpoint {re.escape(str(damaged.relative_to(workdir)))} unreadable .*"
        r"training from scratch",
        out,
    ), out
    assert "resuming from" in (logs / "contrastive" / "seed0.log").read_text()

    # uninterrupted runs of the same config, in this process
    config = C.validate(cfg)
    data = workdir / "results" / "data" / "synthetic.h5"
    resolved = P.training_params(config, EXPERIMENT)
    for loss in cfg["losses"]:
        ref = tmp_path / "reference" / loss
        out_ref = run_outputs(ref)
        runs.train_run(data, resolved, loss, SEED, out_ref, ref / "ck.pt")
        evaluate.evaluate_run(
            out_ref["embeddings"],
            out_ref["history"],
            P.evaluation_params(config, EXPERIMENT),
            ref / "metrics.json",
        )
        run = runs_dir / loss / f"seed{SEED}"
        assert_same_history(run / "history.csv", out_ref["history"])
        assert_same_embeddings(run / "embeddings.h5", out_ref["embeddings"])
        assert metrics_without_clock(run / "metrics.json") == metrics_without_clock(
            ref / "metrics.json"
        )
