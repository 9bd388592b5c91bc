"""Your own images, end to end (tests/config/tiny_image_folder.yaml): three classes of PNG and
JPEG images of different sizes in train/ and test/ folders, through the EfficientNet-Lite0
head (the files decoded by the backbone) and the CNN (the images decoded at 16 px); an
unreadable image stops the run with its name."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from conftest import CONFIG_DIR, output_of, require_success, run_snakemake
from fixtures_formats import write_image_folder

from dmlstudy import h5io

pytestmark = pytest.mark.slow

CONFIG = CONFIG_DIR / "tiny_image_folder.yaml"
EXPERIMENTS = ["shapes_head", "shapes_cnn"]


@pytest.fixture(scope="module")
def image_folder_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("image_folder_run")
    write_image_folder(root / "data" / "shapes", per_class=6, split=True)
    require_success(run_snakemake(root, CONFIG, "all"), "the tiny image-folder workflow run")
    return root


def test_an_image_folder_runs_through_the_efficientnet_head_and_the_cnn(image_folder_run):
    res = image_folder_run / "results"
    data = h5io.read_attrs(res / "data" / "shapes.h5")
    assert data["kind"] == "image_files" and data["class_names"] == ["cat", "dog", "fox"]
    assert "train/ and test/ folders, 18/9 images" in data["description"]
    feats = h5io.read_attrs(res / "features" / "shapes" / "effnet.h5")
    assert (feats["backbone"], feats["input_kind"]) == ("efficientnet_lite0", "image_files")
    assert feats["preprocessing"]["size"] == 32
    assert h5io.read_split(res / "features" / "shapes" / "effnet.h5", "train")["x"].shape == (
        18,
        1280,
    )
    small = h5io.read_attrs(res / "data" / "shapes_16px.h5")
    assert (small["kind"], small["image_shape"]) == ("images", [3, 16, 16])
    t3 = pd.read_csv(res / "tables" / "table3_classification.csv")
    assert set(t3["experiment"]) == set(EXPERIMENTS)
    assert set(t3["loss"]) == {"contrastive", "triplet"}
    for exp in EXPERIMENTS:
        metrics = json.loads(
            (res / "runs" / exp / "triplet" / "seed0" / "metrics.json").read_text()
        )
        # the classes differ in colour: better than the chance of 1/3 on the 9 test images
        assert metrics["knn_accuracy"] > 0.5, (exp, metrics["knn_accuracy"])
    for name in ("table1_variance", "table4_retrieval"):
        assert set(pd.read_csv(res / "tables" / f"{name}.csv")["experiment"]) == set(EXPERIMENTS)


def test_an_unreadable_image_stops_the_run_with_its_name(image_folder_run, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(image_folder_run / "data", root / "data")
    bad = root / "data" / "shapes" / "train" / "dog" / "scan_0042.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n but the rest is gone")
    proc = run_snakemake(root, CONFIG, "results/data/shapes.h5")
    assert proc.returncode != 0
    text = output_of(proc)
    assert "1 of 28 images cannot be read" in text
    assert str(bad.resolve()) in text
    assert "replace or delete these files" in text
    assert not (root / "results" / "data" / "shapes.h5").exists()
