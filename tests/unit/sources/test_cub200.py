"""Source cub200 on a fixture in CUB-200-2011's layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures_formats import assert_not_found, write_cub

from dmlstudy.config import validate_dataset
from dmlstudy.errors import ConfigError, CorruptFileError, DataNotFoundError
from dmlstudy.sources import check_available, prepare_dataset


def test_cub_official_split(tmp_path):
    truth = write_cub(tmp_path / "CUB_200_2011", n_classes=4, per_class=3)
    spec = validate_dataset(
        {"source": "cub200", "root": str(tmp_path / "CUB_200_2011"), "split": "official"}
    )
    check_available(spec, "cub")
    p = prepare_dataset(spec, "cub", 0)
    assert p.attrs["kind"] == "image_files" and p.attrs["num_classes"] == 4
    assert "normalize_mean" not in p.attrs
    assert p.attrs["class_names"] == truth["classes"]
    tr, te = p.splits["train"], p.splits["test"]
    assert len(tr["paths"]) == 8 and len(te["paths"]) == 4
    assert set(tr["y"].tolist()) == set(te["y"].tolist()) == {0, 1, 2, 3}
    assert tr["y"].dtype == np.int64
    for path in [*tr["paths"], *te["paths"]]:
        assert Path(path).is_absolute() and Path(path).is_file()
    # label comes from image_class_labels.txt, matching the folder name
    for path, y in zip(tr["paths"], tr["y"], strict=True):
        assert Path(path).parent.name == truth["classes"][y]
    assert "official split" in p.attrs["description"]


def test_cub_class_disjoint_and_parent_root(tmp_path):
    write_cub(tmp_path / "CUB_200_2011", n_classes=4, per_class=3)
    spec = validate_dataset({"source": "cub200", "root": str(tmp_path), "split": "class_disjoint"})
    check_available(spec, "cub")
    p = prepare_dataset(spec, "cub", 0)
    tr, te = p.splits["train"]["y"], p.splits["test"]["y"]
    assert set(tr.tolist()) == {0, 1} and set(te.tolist()) == {2, 3}
    assert len(tr) == len(te) == 6
    assert "classes 1-2 train / 3-4 test" in p.attrs["description"]
    with pytest.raises(ConfigError, match="split"):
        validate_dataset({**spec, "split": "random"}, "cub")


def test_cub_missing(tmp_path):
    spec = validate_dataset({"source": "cub200", "root": str(tmp_path / "birds")})
    for call in (lambda: check_available(spec, "cub"), lambda: prepare_dataset(spec, "cub", 0)):
        with pytest.raises(DataNotFoundError) as ei:
            call()
        assert_not_found(
            ei.value, "cub", tmp_path / "birds", "images.txt", "CUB_200_2011.tgz", "Caltech"
        )
    # index present but one image gone
    truth = write_cub(tmp_path / "birds", n_classes=2, per_class=2)
    (tmp_path / "birds" / "images" / truth["rel"][1]).unlink()
    for call in (lambda: check_available(spec, "cub"), lambda: prepare_dataset(spec, "cub", 0)):
        with pytest.raises(DataNotFoundError) as ei:
            call()
        assert truth["rel"][1] in str(ei.value) and "1 of 4 missing" in str(ei.value)


def test_cub_corrupt_index(tmp_path):
    write_cub(tmp_path, n_classes=2, per_class=2)
    (tmp_path / "train_test_split.txt").write_text("1 1\n2 0\n3\n")
    with pytest.raises(CorruptFileError, match="train_test_split.txt, line 3"):
        prepare_dataset(validate_dataset({"source": "cub200", "root": str(tmp_path)}), "cub", 0)
