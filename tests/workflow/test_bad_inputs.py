"""Damaged and bad inputs.

- A truncated or corrupt HDF5 file is a clear error naming the file and saying "delete it
  and rerun"; it is never read as wrong numbers, and nothing else is touched.
- A NaN or infinite loss stops training naming the epoch and batch; no result file is written.
- A dataset folder that does not exist stops the workflow before any job runs, with the
  DataNotFoundError message, and leaves earlier outputs as they were.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import (
    TINY_CONFIG,
    file_mtimes,
    load_yaml,
    output_of,
    require_success,
    run_outputs,
    run_snakemake,
    write_config,
)

from dmlstudy import config as C
from dmlstudy import evaluate, h5io, runs, scripting, sources
from dmlstudy import params as P
from dmlstudy.errors import CorruptFileError, TrainingDivergedError

RESULT_FILES = ("model", "history", "embeddings", "config")
DELETE_HINT = "delete it and rerun"


def assert_no_results(folder) -> None:
    folder = Path(folder)
    for name, path in run_outputs(folder).items():
        assert not Path(path).exists(), f"{name} was written"
    if folder.exists():  # and no half-written temporary file either
        assert not [p.name for p in folder.iterdir() if p.name.endswith(".part")]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small synthetic data file and the training parameters of one experiment on it."""
    root = tmp_path_factory.mktemp("bad_inputs")
    cfg = C.validate(
        {
            "training": {"epochs": 3, "batch_size": 32},
            "datasets": {
                "synthetic": {"source": "synthetic", "n_classes": 4, "n_per_class": 40, "dim": 16}
            },
            "experiments": {"synthetic_mlp": {"dataset": "synthetic", "model": "mlp"}},
        }
    )
    data = root / "synthetic.h5"
    sources.prepare_to_file(cfg["datasets"]["synthetic"], "synthetic", data)
    return {"data": data, "resolved": P.training_params(cfg, "synthetic_mlp"), "root": root}


def with_training(resolved, **training):
    out = copy.deepcopy(resolved)
    out["training"].update(training)
    return out


# --------------------------------------------------------------------------- damaged HDF5 files
@pytest.mark.parametrize("fraction", [0.0, 0.02, 0.5, 0.98])
def test_truncated_data_file_is_a_clear_error(small, tmp_path, fraction):
    bad = tmp_path / "synthetic.h5"
    shutil.copy(small["data"], bad)
    with open(bad, "r+b") as fh:
        fh.truncate(int(bad.stat().st_size * fraction))
    with pytest.raises(CorruptFileError) as info:
        runs.train_run(
            bad,
            small["resolved"],
            "contrastive",
            0,
            run_outputs(tmp_path / "run"),
            tmp_path / "run" / "ck.pt",
        )
    assert str(bad) in str(info.value) and DELETE_HINT in str(info.value)
    assert_no_results(tmp_path / "run")


def test_corrupt_bytes_are_an_error_or_harmless_never_wrong_numbers(small, tmp_path):
    """Overwrite every 256-byte window of the file in turn with random bytes: each damaged
    copy either fails with the clear error or reads back exactly the original arrays
    (the bytes hit were unused). Checksums (Fletcher-32) catch damage inside the arrays."""
    original = runs.load_training_data(small["data"])
    raw = small["data"].read_bytes()
    rng = np.random.default_rng(0)
    bad = tmp_path / "synthetic.h5"
    errors = 0
    for offset in range(0, len(raw), 256):
        damaged = bytearray(raw)
        damaged[offset : offset + 256] = rng.integers(
            0, 256, len(damaged[offset : offset + 256]), dtype=np.uint8
        ).tobytes()
        bad.write_bytes(bytes(damaged))
        try:
            got = runs.load_training_data(bad)
        except CorruptFileError as exc:
            assert str(bad) in str(exc) and DELETE_HINT in str(exc), str(exc)
            errors += 1
            continue
        for i in (0, 1):
            for name in ("x", "y"):
                assert np.array_equal(got[i][name], original[i][name]), (
                    f"offset {offset}: {name} silently changed"
                )
        assert got[2] == original[2], f"offset {offset}: attributes silently changed"
    assert errors >= len(raw) // 256 // 3  # much of the file matters, and is checked


def test_corrupt_embeddings_file_fails_evaluation(small, tmp_path):
    run = tmp_path / "run"
    out = run_outputs(run)
    runs.train_run(small["data"], small["resolved"], "contrastive", 0, out, run / "ck.pt")
    emb = Path(out["embeddings"])
    emb.write_bytes(emb.read_bytes()[: emb.stat().st_size // 2])
    ev = {
        "experiment": "synthetic_mlp",
        "evaluation": C.validate(
            {
                "experiments": {"e": {"dataset": "s", "model": "mlp"}},
                "datasets": {"s": {"source": "synthetic"}},
            }
        )["evaluation"],
    }
    with pytest.raises(CorruptFileError, match=re.escape(str(emb))):
        evaluate.evaluate_run(emb, out["history"], ev, run / "metrics.json")
    assert not (run / "metrics.json").exists()


def test_run_stage_turns_the_error_into_exit_1_and_one_log_line(small, tmp_path, caplog):
    bad = tmp_path / "synthetic.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with (
        caplog.at_level(logging.ERROR, logger="dmlstudy"),
        pytest.raises(SystemExit) as info,
    ):
        scripting.run_stage(
            runs.train_run,
            bad,
            small["resolved"],
            "triplet",
            0,
            run_outputs(tmp_path / "r"),
            tmp_path / "r" / "ck.pt",
        )
    assert info.value.code == 1
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert str(bad) in caplog.text and DELETE_HINT in caplog.text


# --------------------------------------------------------------------------- NaN / infinite loss
@pytest.mark.parametrize("loss", ["contrastive", "triplet"])
def test_nan_in_the_data_stops_training_naming_epoch_and_batch(small, tmp_path, loss):
    tr, te = h5io.read_split(small["data"], "train"), h5io.read_split(small["data"], "test")
    tr["x"][7, 2] = np.nan
    data = tmp_path / "nan.h5"
    h5io.write_splits(data, {"train": tr, "test": te}, h5io.read_attrs(small["data"]))
    with pytest.raises(
        TrainingDivergedError, match=r"loss is nan at epoch 0, batch \d+ .*no result written"
    ):
        runs.train_run(
            data,
            small["resolved"],
            loss,
            0,
            run_outputs(tmp_path / "run"),
            tmp_path / "run" / "ck.pt",
        )
    assert_no_results(tmp_path / "run")


@pytest.mark.parametrize(
    "lr, epochs, batch_size, message",
    [
        (
            1e30,
            3,
            32,
            r"loss is (nan|inf) at epoch [1-3], batch \d+",
        ),  # weights blow up, next batch is NaN
        (
            1e38,
            3,
            32,
            r"optimiser step overflowed at epoch 1, batch 0",
        ),  # Adam's step itself overflows
        (
            1e30,
            1,
            10_000,
            r"embeddings are not finite after epoch 1, batch 0",
        ),  # the very last step
    ],
)
def test_huge_learning_rate_stops_training(small, tmp_path, lr, epochs, batch_size, message):
    resolved = with_training(small["resolved"], lr=lr, epochs=epochs, batch_size=batch_size)
    with pytest.raises(TrainingDivergedError, match=message) as info:
        runs.train_run(
            small["data"],
            resolved,
            "contrastive",
            0,
            run_outputs(tmp_path / "run"),
            tmp_path / "run" / "ck.pt",
        )
    assert "no result written" in str(info.value) and "training.lr" in str(info.value)
    assert_no_results(tmp_path / "run")


# --------------------------------------------------------------------------- through Snakemake
RUN = "results/runs/synthetic_mlp/contrastive/seed0"
RUN_FILES = {f"{RUN}/{f}" for f in ("model.pt", "history.csv", "embeddings.h5", "config.json")}
RUN_LOGS = {
    "results/logs/train/synthetic_mlp/contrastive/seed0.log",
    "results/benchmarks/train/synthetic_mlp/contrastive/seed0.tsv",
}


@pytest.mark.slow
def test_truncated_data_file_in_the_workflow(tiny_run_copy):
    """The training job fails naming the file and the fix; the damaged file is neither used
    nor silently replaced, other outputs are untouched; following the advice repairs it."""
    wd = tiny_run_copy
    data = wd / "results" / "data" / "synthetic.h5"
    original_history = pd.read_csv(wd / RUN / "history.csv")
    with open(data, "r+b") as fh:
        fh.truncate(data.stat().st_size // 2)
    size = data.stat().st_size
    before = file_mtimes(wd)

    proc = run_snakemake(wd, TINY_CONFIG, f"{RUN}/model.pt")
    out = output_of(proc)
    assert proc.returncode != 0
    assert "results/data/synthetic.h5" in out and DELETE_HINT in out, out
    log = (wd / "results/logs/train/synthetic_mlp/contrastive/seed0.log").read_text()
    assert "Traceback" not in log and DELETE_HINT in log, log
    assert data.stat().st_size == size  # not rebuilt behind the user's back
    after = file_mtimes(wd)
    changed = {p for p in before if after.get(p) != before[p]}
    assert changed <= RUN_FILES | RUN_LOGS, changed  # only the failed job's own files
    assert not set(after) - set(before) - RUN_LOGS

    data.unlink()  # what the message says to do
    require_success(
        run_snakemake(wd, TINY_CONFIG, f"{RUN}/model.pt"), "the rerun after deleting the file"
    )
    again = pd.read_csv(wd / RUN / "history.csv")
    pd.testing.assert_frame_equal(
        again.drop(columns="seconds"), original_history.drop(columns="seconds"), check_exact=True
    )


@pytest.mark.slow
def test_diverging_training_job_in_the_workflow(tiny_run_copy, tmp_path):
    wd = tiny_run_copy
    cfg = load_yaml(TINY_CONFIG)
    cfg["training"]["lr"] = 1e30
    configfile = write_config(tmp_path / "huge_lr.yaml", cfg)
    before = file_mtimes(wd)
    proc = run_snakemake(wd, configfile, f"{RUN}/model.pt")
    out = output_of(proc)
    assert proc.returncode != 0
    assert re.search(
        r"loss is (nan|inf) at epoch \d+, batch \d+ \(contrastive, seed 0\); no result written", out
    ), out
    log = (wd / "results/logs/train/synthetic_mlp/contrastive/seed0.log").read_text()
    assert "Traceback" not in log
    assert_no_results(wd / RUN)
    after = file_mtimes(wd)
    # (the checkpoint is not a result: the new config starts it afresh at epoch 0)
    allowed = RUN_FILES | RUN_LOGS | {f"{RUN}/checkpoint.pt"}
    assert {p for p in before if p not in allowed and after.get(p) != before[p]} == set()


@pytest.mark.slow
def test_missing_data_folder_stops_before_any_job(tiny_run_copy, tmp_path):
    wd = tiny_run_copy
    missing = tmp_path / "no_such_folder" / "fashion-mnist"
    cfg = load_yaml(TINY_CONFIG)
    cfg["datasets"]["fashion"] = {"source": "idx_folder", "path": str(missing)}
    cfg["experiments"]["fashion_cnn"] = {
        "dataset": "fashion",
        "model": "cnn",
        "training": {"epochs": 1},
    }
    configfile = write_config(tmp_path / "fashion.yaml", cfg)
    before = file_mtimes(wd)

    proc = run_snakemake(wd, configfile, "all")
    out = output_of(proc)
    assert proc.returncode != 0
    assert "dataset 'fashion': required files not found" in proc.stderr, out
    assert str(missing) in proc.stderr and "train-images-idx3-ubyte" in proc.stderr
    assert "how to get them" in proc.stderr
    assert "Traceback" not in out and 'File "' not in out
    assert "Building DAG" not in out and "rule " not in out  # stopped before planning any job
    assert file_mtimes(wd) == before  # every earlier output intact, nothing new

    # a dry run still shows the plan, with the same message as a warning
    dry = run_snakemake(wd, configfile, "-n", "all")
    assert dry.returncode == 0, output_of(dry)
    assert "dataset 'fashion': required files not found" in dry.stderr
    assert file_mtimes(wd) == before


# --------------------------------------------------------------------------- bad inputs of the reported cases
def prepare_small(root, name="synthetic", **spec) -> Path:
    """A synthetic data file with the given source options (validated defaults for the rest)."""
    cfg = C.validate(
        {
            "datasets": {name: {"source": "synthetic", **spec}},
            "experiments": {"e": {"dataset": name, "model": "mlp"}},
        }
    )
    path = Path(root) / f"{name}.h5"
    sources.prepare_to_file(cfg["datasets"][name], name, path)
    return path


# label noise leaves class 3 with one point (seed 1); every other class puts one of its
# points in test, so no class keeps two training points either
ONE_POINT_CLASS = {
    "n_classes": 5,
    "n_per_class": 2,
    "dim": 8,
    "label_noise": 0.2,
    "outlier_fraction": 0.0,
    "test_fraction": 0.5,
    "seed": 1,
}


def test_a_one_point_class_stays_in_training_with_a_warning(tmp_path, caplog):
    """Case 1: data preparation used to crash with scikit-learn's ValueError ("The least
    populated classes in y have only 1 member"). The class now stays whole in the
    training split, and a warning names it and the fix."""
    with caplog.at_level("WARNING", logger="dmlstudy"):
        data = prepare_small(tmp_path, **ONE_POINT_CLASS)
    train, test = h5io.read_split(data, "train")["y"], h5io.read_split(data, "test")["y"]
    assert (train == 3).sum() == 1 and (test == 3).sum() == 0
    assert "class 3 has a single point" in caplog.text and "n_per_class" in caplog.text


def test_too_few_points_to_stratify_is_a_clear_error(tmp_path):
    """Case 1, the reported config (n_classes 4, n_per_class 2, default test_fraction
    0.2): 2 test points cannot hold one of each of 4 classes. A config error names the
    numbers and the fix instead of scikit-learn's traceback."""
    from dmlstudy.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        prepare_small(tmp_path, n_classes=4, n_per_class=2)
    text = str(info.value)
    assert "cannot split 8 points of 4 classes stratified with test_fraction 0.2" in text
    assert "Raise n_per_class" in text
    assert not (tmp_path / "synthetic.h5").exists()


@pytest.mark.slow
def test_one_point_classes_and_no_positive_pair_in_the_workflow(tmp_path):
    """Cases 1 and 2 through Snakemake: the data job succeeds and its warning reaches the
    console; the contrastive training job then refuses with one line naming the dataset
    problem and the fix. No traceback anywhere, no result written."""
    cfg = load_yaml(TINY_CONFIG)
    cfg["seeds"], cfg["losses"] = [0], ["contrastive"]
    cfg["datasets"] = {"tiny": {"source": "synthetic", **ONE_POINT_CLASS}}
    cfg["experiments"] = {"tiny_mlp": {"dataset": "tiny", "model": "mlp"}}
    configfile = write_config(tmp_path / "one_point.yaml", cfg)
    run = "results/runs/tiny_mlp/contrastive/seed0"
    proc = run_snakemake(tmp_path / "wd", configfile, f"{run}/model.pt")
    out = output_of(proc)
    assert proc.returncode != 0
    assert re.search(r"warning: class 3 has a single point.*results/logs/prepare_data/tiny", out)
    assert "error: contrastive, seed 0: no positive pair among the 5 training points" in out
    assert "Traceback" not in out, out
    assert (tmp_path / "wd" / "results" / "data" / "tiny.h5").exists()
    assert_no_results(tmp_path / "wd" / run)


# one training and one test point per class: no class has two training points
ONE_TRAINING_POINT_PER_CLASS = {
    "n_classes": 6,
    "n_per_class": 2,
    "dim": 8,
    "label_noise": 0.0,
    "outlier_fraction": 0.0,
    "test_fraction": 0.5,
}


@pytest.mark.parametrize("loss", ["contrastive", "triplet"])
def test_no_positive_pair_refuses_to_train(small, tmp_path, loss):
    """Case 2: contrastive used to train on negative pairs only and exit 0 (k-NN at chance,
    MAP@R NaN, Table 1 intra-class variance 0.0); now both losses refuse before any epoch,
    naming the dataset problem and the fix, and write nothing."""
    from dmlstudy.errors import DmlStudyError

    data = prepare_small(tmp_path, **ONE_TRAINING_POINT_PER_CLASS)
    assert len(np.unique(h5io.read_split(data, "train")["y"])) == 6
    with pytest.raises(DmlStudyError) as info:
        runs.train_run(
            data,
            small["resolved"],
            loss,
            0,
            run_outputs(tmp_path / "run"),
            tmp_path / "run" / "ck.pt",
        )
    text = str(info.value)
    assert "no positive pair" in text and "6 training points" in text
    assert "no class has two training points" in text
    assert "n_per_class" in text and "test_fraction" in text  # the fix
    assert_no_results(tmp_path / "run")


def test_the_job_log_holds_a_few_progress_lines_not_one_per_epoch(small, tmp_path, caplog):
    """Case 5: Snakemake prints a failed or interrupted job's whole log; 50 epochs make
    about 10 progress lines (every 5th epoch, the first and the last), not 51. Every epoch
    stays in history.csv."""
    resolved = with_training(small["resolved"], epochs=50)
    out = run_outputs(tmp_path / "run")
    with caplog.at_level("INFO", logger="dmlstudy.train"):
        runs.train_run(small["data"], resolved, "triplet", 0, out, tmp_path / "run" / "ck.pt")
    logged = [int(m) for m in re.findall(r"epoch +(\d+)/50", caplog.text)]
    assert logged == list(range(0, 51, 5))
    assert len(pd.read_csv(out["history"])) == 51


def evaluation_of(resolved) -> dict:
    return {"experiment": resolved["experiment"], "evaluation": resolved_evaluation()}


def resolved_evaluation() -> dict:
    return C.validate(
        {
            "experiments": {"e": {"dataset": "s", "model": "mlp"}},
            "datasets": {"s": {"source": "synthetic"}},
        }
    )["evaluation"]


@pytest.mark.parametrize("loss", ["contrastive", "triplet"])
@pytest.mark.parametrize("lr, healthy", [(1e-3, True), (1e3, False), (1e6, False)])
def test_a_collapsed_run_fails_its_health_check(small, tmp_path, caplog, loss, lr, healthy):
    """Case 3: with training.lr 1000 or 1e6 the run used to exit 0 without a word while its
    gradient norm collapsed (and k-NN accuracy and MAP@R fell). On the tiny synthetic data
    its health check now fails: metrics.json says so (``health``) and the evaluation job
    logs a WARNING; the default learning rate passes."""
    resolved = with_training(small["resolved"], lr=lr)
    run = tmp_path / "run"
    out = run_outputs(run)
    runs.train_run(small["data"], resolved, loss, 0, out, run / "ck.pt")
    with caplog.at_level("WARNING", logger="dmlstudy"):
        m = evaluate.evaluate_run(
            out["embeddings"], out["history"], evaluation_of(resolved), run / "metrics.json"
        )
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["health"] == m["health"]
    checks = [p["check"] for p in m["health"]["problems"]]
    if healthy:
        assert m["health"]["status"] == "ok" and not caplog.records, caplog.text
        return
    assert m["health"]["status"] == "warning" and "gradient_vanished" in checks
    assert m["health"]["measures"]["grad_ratio"] < 1e-2
    warning = f"health check of synthetic_mlp / {loss} / seed 0 failed"
    assert warning in caplog.text and "Lower training.lr" in caplog.text


def test_fig2_of_a_config_without_a_test_split_shows_the_evaluation_split(small, tmp_path):
    """Case 6: the authors' preset has no test split (test_fraction 0) and scores its
    training points (evaluation.split: train); Fig. 2 used to fail reshaping the empty test
    split. It now shows the split the metrics score and says which."""
    from types import SimpleNamespace

    from dmlstudy.report import jobs
    from dmlstudy.report import pca as figures

    data = prepare_small(tmp_path, n_classes=4, n_per_class=40, dim=16, test_fraction=0)
    assert len(h5io.read_split(data, "test")["y"]) == 0
    emb = {}
    for loss in ("contrastive", "triplet"):
        out = run_outputs(tmp_path / loss)
        runs.train_run(data, small["resolved"], loss, 0, out, tmp_path / loss / "ck.pt")
        emb[loss] = out["embeddings"]
    panel = figures.load_pca_panel(data, emb, n_samples=100, split="train")
    assert panel["split"] == "train" and panel["n_total"] == 168
    assert panel["input"][0].shape == (100, 16)
    spec = {"input": str(data), "embeddings": emb, "split": "train"}
    outputs = SimpleNamespace(png=str(tmp_path / "fig2_pca.png"))
    params = SimpleNamespace(
        panels={"synthetic_code": spec},
        labels={"synthetic_code": "Synthetic"},
        loss_labels={"contrastive": "Contrastive", "triplet": "Triplet"},
        samples=100,
        seed=0,
        dpi=50,
    )
    jobs.pca_figure(None, outputs, params)
    assert (tmp_path / "fig2_pca.png").stat().st_size > 0
    assert (tmp_path / "fig2_pca.pdf").stat().st_size > 0


@pytest.mark.slow
def test_the_authors_preset_runs_end_to_end(tmp_path):
    """Case 6 through Snakemake: config/authors_code.yaml, made small (one seed, 2 epochs,
    fewer points), runs `all`; Fig. 2 shows the training points it scores, and Tables 3 and
    4 say why they have no numbers. (The full preset takes about 6 minutes on 2 shared
    cores; README.)"""
    cfg = load_yaml(Path(C.__file__).parents[2] / "config" / "authors_code.yaml")
    cfg["seeds"] = [0]
    cfg["training"]["epochs"] = 2
    cfg["datasets"]["synthetic_l2"].update(n_classes=4, n_per_class=30, dim=16)
    configfile = write_config(tmp_path / "authors_small.yaml", cfg)
    proc = run_snakemake(tmp_path / "wd", configfile, "all")
    require_success(proc, "the authors' preset")
    results = tmp_path / "wd" / "results"
    assert (results / "figures" / "fig2_pca.png").stat().st_size > 0
    for table in ("table3_classification.tex", "table4_retrieval.tex"):
        assert "no test split" in (results / "tables" / table).read_text()
    assert "Traceback" not in output_of(proc)


def test_non_finite_embeddings_stop_the_evaluation_naming_the_problem(small, tmp_path):
    """The health check's non-finite case at evaluation: embeddings with NaN (test inputs
    with NaN that training never saw) would make every metric meaningless; the evaluation
    stops naming the run, the count and the fix, and writes no metrics.json."""
    run = tmp_path / "run"
    out = run_outputs(run)
    runs.train_run(small["data"], small["resolved"], "triplet", 0, out, run / "ck.pt")
    tr, te = h5io.read_split(out["embeddings"], "train"), h5io.read_split(out["embeddings"], "test")
    te["x"][[1, 4]] = np.nan
    h5io.write_splits(
        out["embeddings"], {"train": tr, "test": te}, h5io.read_attrs(out["embeddings"])
    )
    with pytest.raises(TrainingDivergedError) as info:
        evaluate.evaluate_run(
            out["embeddings"],
            out["history"],
            evaluation_of(small["resolved"]),
            run / "metrics.json",
        )
    text = str(info.value)
    assert "synthetic_mlp / triplet / seed 0" in text
    assert f"2 of {len(te['y'])} evaluation embeddings" in text
    assert "training.lr" in text and "NaN/inf" in text
    assert not (run / "metrics.json").exists()
