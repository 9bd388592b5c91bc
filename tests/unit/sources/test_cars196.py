"""Source cars196 on a fixture in the cars_annos.mat layout."""

from __future__ import annotations

import shutil

import pytest
from fixtures_formats import assert_not_found, write_cars

from dmlstudy.config import validate_dataset
from dmlstudy.errors import CorruptFileError, DataNotFoundError
from dmlstudy.sources import check_available, prepare_dataset


def test_cars_official_split(tmp_path):
    truth = write_cars(tmp_path, n_classes=4, per_class=3)
    spec = validate_dataset({"source": "cars196", "root": str(tmp_path), "split": "official"})
    check_available(spec, "cars")
    p = prepare_dataset(spec, "cars", 0)
    assert p.attrs["kind"] == "image_files" and p.attrs["num_classes"] == 4
    assert p.attrs["class_names"] == truth["class_names"]
    tr, te = p.splits["train"], p.splits["test"]
    assert len(tr["y"]) == 8 and len(te["y"]) == 4
    assert set(tr["y"].tolist()) == set(te["y"].tolist()) == {0, 1, 2, 3}
    assert te["paths"].tolist() == [str(tmp_path / f"car_ims/{i:06d}.jpg") for i in (3, 6, 9, 12)]
    assert tr["y"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_cars_class_disjoint(tmp_path):
    write_cars(tmp_path, n_classes=4, per_class=3)
    p = prepare_dataset(
        validate_dataset({"source": "cars196", "root": str(tmp_path), "split": "class_disjoint"}),
        "cars",
        0,
    )
    tr, te = p.splits["train"]["y"], p.splits["test"]["y"]
    assert set(tr.tolist()) == {0, 1} and set(te.tolist()) == {2, 3}
    assert not set(p.splits["train"]["paths"]) & set(p.splits["test"]["paths"])


def test_cars_missing_and_corrupt(tmp_path):
    spec = validate_dataset({"source": "cars196", "root": str(tmp_path)})
    for call in (lambda: check_available(spec, "cars"), lambda: prepare_dataset(spec, "cars", 0)):
        with pytest.raises(DataNotFoundError) as ei:
            call()
        assert_not_found(
            ei.value,
            "cars",
            tmp_path,
            "cars_annos.mat",
            "car_ims/",
            "place cars_annos.mat and car_ims/",
        )
    write_cars(tmp_path, n_classes=2, per_class=2)
    shutil.rmtree(tmp_path / "car_ims")
    (tmp_path / "car_ims").mkdir()
    with pytest.raises(DataNotFoundError, match="4 of 4 missing"):
        check_available(spec, "cars")
    (tmp_path / "cars_annos.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(CorruptFileError, match="cars_annos.mat"):
        prepare_dataset(spec, "cars", 0)
