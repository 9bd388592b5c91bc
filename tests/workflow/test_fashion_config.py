"""config/fashion.yaml: the full Fashion-MNIST from Debian's package.

Without the package the workflow stops before any job and says how to install it; with the
files in place the config plans the paper's protocol on both models.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO, load_yaml, output_of, run_snakemake, write_config
from fixtures_formats import write_idx_set

from dmlstudy import config as C
from dmlstudy import params as P
from dmlstudy.sources import check_available, paper_dataset
from dmlstudy.sources.idx_folder import DEBIAN_FASHION_MNIST

FASHION = REPO / "config" / "fashion.yaml"


def _fashion_config(tmp_path: Path, folder: Path) -> Path:
    cfg = load_yaml(FASHION)
    assert cfg["datasets"]["fashion"]["path"] == DEBIAN_FASHION_MNIST
    cfg["datasets"]["fashion"]["path"] = str(folder)
    return write_config(tmp_path / "fashion.yaml", cfg)


def test_without_the_debian_package_it_stops_before_any_job(tmp_path):
    missing = tmp_path / "usr" / "share" / "datasets" / "fashion-mnist"
    work = tmp_path / "work"
    proc = run_snakemake(work, _fashion_config(tmp_path, missing), "all")
    out = output_of(proc)
    assert proc.returncode != 0, out
    assert "dataset 'fashion': required files not found" in proc.stderr, out
    assert "sudo apt-get install dataset-fashion-mnist" in proc.stderr, out
    assert str(missing) in proc.stderr and "train-images-idx3-ubyte" in proc.stderr
    assert "Traceback" not in out
    assert "Building DAG" not in out and "rule " not in out  # no job was planned
    assert not (work / "results").exists()


def test_with_the_files_in_place_it_plans_the_paper_protocol(tmp_path):
    folder = tmp_path / "fashion-mnist"
    write_idx_set(folder, 20, 10, gz=True)  # Debian ships the four files gzipped
    configfile = _fashion_config(tmp_path, folder)
    cfg = C.validate(load_yaml(configfile))
    check_available(cfg["datasets"]["fashion"], "fashion")
    assert paper_dataset(cfg["datasets"]["fashion"]) is None  # not one of the paper's
    assert cfg["seeds"] == [0, 1, 2, 3, 4] and cfg["losses"] == ["contrastive", "triplet"]
    models = {name: (e["model"], e["backbone"]) for name, e in cfg["experiments"].items()}
    assert models == {"fashion_cnn": ("cnn", None), "fashion_effnet": ("head", "effnet_lite0")}
    assert cfg["backbones"]["effnet_lite0"]["kind"] == "efficientnet_lite0"
    # the protocol is the paper's (schema defaults, x-paper); only the epochs are cut
    for key, value in {"margin": 1.0, "triplet_distance": "squared"}.items():
        assert cfg["loss"][key] == value
    assert (cfg["training"]["lr"], cfg["training"]["batch_size"]) == (0.001, 64)
    epochs = {n: P.training_params(cfg, n)["training"]["epochs"] for n in cfg["experiments"]}
    assert epochs == {"fashion_cnn": 2, "fashion_effnet": 10}

    dry = run_snakemake(tmp_path / "work", configfile, "-n", "all")
    assert dry.returncode == 0, output_of(dry)
    for rule, n in {"extract_features": 1, "train_model": 20, "evaluate_run": 20}.items():
        assert re.search(rf"^{rule}\s+{n}$", dry.stdout, re.MULTILINE), dry.stdout
