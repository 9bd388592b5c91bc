"""The rehearsal's stand-ins (dmlstudy.rehearsal): written small, read back through the real
data sources, deterministic from the seed, learnable, and config/rehearsal.yaml differs from
config/paper.yaml only where it says so."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from dmlstudy import config as C
from dmlstudy import rehearsal as R
from dmlstudy.backbones import load_backbone
from dmlstudy.rehearsal import arrays, photos
from dmlstudy.rehearsal.__main__ import main as cli
from dmlstudy.sources import check_available, prepare_dataset

ROOT = Path(__file__).resolve().parents[2]


def digest(folder: Path) -> dict[str, str]:
    """File (relative path) -> sha256 of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def nearest_centroid_accuracy(x_tr, y_tr, x_te, y_te) -> float:
    x_tr = x_tr.reshape(len(x_tr), -1).astype(np.float64)
    x_te = x_te.reshape(len(x_te), -1).astype(np.float64)
    classes = np.unique(y_tr)
    centroids = np.stack([x_tr[y_tr == c].mean(0) for c in classes])
    d = ((x_te[:, None, :] - centroids[None]) ** 2).sum(-1)
    return float((classes[d.argmin(1)] == y_te).mean())


def thumbnails(paths, side: int = 16) -> np.ndarray:
    return np.stack(
        [np.asarray(Image.open(p).convert("RGB").resize((side, side))) for p in paths]
    ).astype(np.float32)


# --------------------------------------------------------------------------- array stand-ins


def test_mnist_standin_reads_back_through_torchvision_mnist(tmp_path):
    truth = arrays.write_mnist(tmp_path, n_train=300, n_test=100, seed=0)
    spec = C.validate_dataset({"source": "torchvision_mnist", "root": str(tmp_path)}, "mnist")
    check_available(spec, "mnist")
    p = prepare_dataset(spec, "mnist", 0)
    assert p.attrs["image_shape"] == [1, 28, 28] and p.attrs["num_classes"] == 10
    np.testing.assert_array_equal(p.splits["train"]["x"][:, 0], truth["x_train"])
    np.testing.assert_array_equal(p.splits["test"]["y"], truth["y_test"])
    assert np.bincount(truth["y_train"]).tolist() == [30] * 10  # balanced
    acc = nearest_centroid_accuracy(truth["x_train"], truth["y_train"], *_test(truth))
    assert acc > 0.5, acc  # chance: 0.1


def test_cifar_standin_reads_back_through_torchvision_cifar10(tmp_path):
    truth = arrays.write_cifar10(tmp_path, n_train=500, n_test=200, seed=0)
    spec = C.validate_dataset({"source": "torchvision_cifar10", "root": str(tmp_path)}, "cifar")
    check_available(spec, "cifar")
    p = prepare_dataset(spec, "cifar", 0)
    assert p.attrs["image_shape"] == [3, 32, 32]
    assert json.loads(json.dumps(p.attrs["class_names"])) == arrays.CIFAR10_CLASSES
    np.testing.assert_array_equal(p.splits["train"]["x"], truth["x_train"])
    np.testing.assert_array_equal(p.splits["test"]["y"], truth["y_test"])
    acc = nearest_centroid_accuracy(truth["x_train"], truth["y_train"], *_test(truth))
    assert acc > 0.5, acc


def _test(truth):
    return truth["x_test"], truth["y_test"]


def test_array_standins_are_deterministic_and_seeded():
    a = arrays.mnist_images(3000, seed=4, split=0)
    b = arrays.mnist_images(3000, seed=4, split=0)
    c = arrays.mnist_images(3000, seed=5, split=0)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    # the first images do not depend on how many come after them (blocks of BLOCK images)
    head = arrays.cifar_images(arrays.BLOCK, seed=1, split=1)
    longer = arrays.cifar_images(arrays.BLOCK + 7, seed=1, split=1)
    np.testing.assert_array_equal(head[0], longer[0][: arrays.BLOCK])
    # train and test are different draws
    assert not np.array_equal(arrays.mnist_images(50, 0, 0)[0], arrays.mnist_images(50, 0, 1)[0])


# --------------------------------------------------------------------------- photo stand-ins


def test_cub_standin_reads_back_through_cub200(tmp_path):
    out = photos.write_cub(tmp_path, n_images=130, n_classes=10, n_train=66, seed=0, workers=1)
    spec = C.validate_dataset({"source": "cub200", "root": str(tmp_path)}, "cub")
    check_available(spec, "cub")
    p = prepare_dataset(spec, "cub", 0)
    tr, te = p.splits["train"], p.splits["test"]
    assert (len(tr["y"]), len(te["y"])) == (66, 64)
    assert p.attrs["num_classes"] == 10 and p.attrs["class_names"] == out["classes"]
    assert set(tr["y"].tolist()) == set(te["y"].tolist()) == set(range(10))
    assert np.bincount(np.concatenate([tr["y"], te["y"]])).tolist() == [13] * 10
    sizes = [Image.open(f).size for f in tr["paths"]]
    assert all(max(s) <= 500 for s in sizes) and sum(max(s) == 500 for s in sizes) > 40
    acc = nearest_centroid_accuracy(
        thumbnails(tr["paths"]), tr["y"], thumbnails(te["paths"]), te["y"]
    )
    assert acc > 0.5, acc  # chance: 0.1


def test_cars_standin_reads_back_through_cars196(tmp_path):
    out = photos.write_cars(tmp_path, n_images=120, n_classes=10, n_train=61, seed=0, workers=2)
    spec = C.validate_dataset({"source": "cars196", "root": str(tmp_path)}, "cars")
    check_available(spec, "cars")
    p = prepare_dataset(spec, "cars", 0)
    tr, te = p.splits["train"], p.splits["test"]
    assert (len(tr["y"]), len(te["y"])) == (61, 59)
    assert p.attrs["class_names"] == out["class_names"]
    # file k of car_ims/ holds the class the annotations say
    paths = np.concatenate([tr["paths"], te["paths"]])
    labels = np.concatenate([tr["y"], te["y"]])
    order = np.argsort(paths)
    np.testing.assert_array_equal(labels[order], out["labels"])
    widths = [Image.open(f).size[0] for f in paths]
    assert 200 <= min(widths) and max(widths) <= 1600 and len(set(widths)) > 50
    acc = nearest_centroid_accuracy(
        thumbnails(tr["paths"]), tr["y"], thumbnails(te["paths"]), te["y"]
    )
    assert acc > 0.5, acc


def test_photos_do_not_depend_on_the_number_of_processes(tmp_path):
    one = photos.write_cars(tmp_path / "a", n_images=70, n_classes=5, n_train=35, workers=1)
    two = photos.write_cars(tmp_path / "b", n_images=70, n_classes=5, n_train=35, workers=2)
    assert one["bytes"] == two["bytes"]
    assert digest(tmp_path / "a") == digest(tmp_path / "b")  # cars_annos.mat too
    assert b"Created on" not in (tmp_path / "a" / "cars_annos.mat").read_bytes()[:116]
    photos.write_cars(tmp_path / "c", n_images=70, n_classes=5, n_train=35, seed=1)
    assert digest(tmp_path / "c" / "car_ims") != digest(tmp_path / "a" / "car_ims")


def test_bounding_boxes_lie_inside_the_photo():
    for code, kind in ((photos.CUB_CODE, "bird"), (photos.CARS_CODE, "car")):
        for i in range(1, 200):
            where, _ = photos.placement(0, code, i)
            x1, y1, x2, y2 = where.bbox(kind)
            assert 1 <= x1 < x2 <= where.width and 1 <= y1 < y2 <= where.height


# --------------------------------------------------------------------------- the command


def test_write_all_keeps_what_is_up_to_date(tmp_path):
    sizes = R.Sizes().scaled(0.002)
    assert (sizes.cub_classes, sizes.cars_classes) == (200, 196)  # classes stay
    assert sizes.cub_images == 400 and sizes.mnist_train == 120
    logs: list[str] = []
    parts = ("mnist", "cifar10")
    assert R.write_all(tmp_path, 3, sizes, parts, log=logs.append) == dict.fromkeys(
        parts, "written"
    )
    before = digest(tmp_path)
    assert R.write_all(tmp_path, 3, sizes, parts, log=logs.append) == dict.fromkeys(parts, "kept")
    assert digest(tmp_path) == before
    R.write_all(tmp_path, 4, sizes, ("mnist",), log=logs.append)  # another seed: rewritten
    assert json.loads((tmp_path / "mnist" / "standin.json").read_text())["seed"] == 4
    assert digest(tmp_path / "mnist") != {
        k.removeprefix("mnist/"): v for k, v in before.items() if k.startswith("mnist/")
    }


def test_command_line_writes_what_the_sources_read(tmp_path):
    assert cli([str(tmp_path), "--only", "mnist", "cifar10", "--scale", "0.002"]) == 0
    for name, source in (("mnist", "torchvision_mnist"), ("cifar10", "torchvision_cifar10")):
        spec = C.validate_dataset({"source": source}, name, data_root=str(tmp_path))
        check_available(spec, name)
    with pytest.raises(SystemExit):
        cli([str(tmp_path), "--scale", "0"])


def test_vit_loads_through_hf_vit_with_the_224_pipeline(tmp_path):
    assert R.VIT_SETTINGS["image_size"] == 224 and R.VIT_SETTINGS["patch_size"] == 32
    assert R.VIT_SETTINGS["hidden_size"] == 768  # ViT-B/32's feature size
    folder = R.write_vit(tmp_path / "vit", hidden_size=48, num_attention_heads=2)
    spec = {"kind": "hf_vit", "model": str(folder), "revision": None, "image_size": None}
    module, prep = load_backbone(spec)
    assert module.feature_dim == 48
    assert prep["size"] == 224 and prep["mean"] == [0.5] * 3 and prep["std"] == [0.5] * 3
    assert prep["mean_std_from"] == "preprocessor_config.json"


# --------------------------------------------------------------------------- config/rehearsal.yaml

# The only places where config/rehearsal.yaml may differ from config/paper.yaml; each one
# is commented there.
ALLOWED = {
    "data_root",
    "threads.train",
    "threads.evaluate",
    "threads.extract",
    "training.epochs",
    "datasets.mnist.download",
    "datasets.cifar10.download",
    "backbones.vit_b32.model",
    "backbones.vit_b32.num_workers",
    "experiments.synthetic_mlp.training",
    *(f"experiments.{e}.label" for e in ("mnist_cnn", "cifar10_cnn", "cifar10_vit")),
    *(f"experiments.{e}.label" for e in ("cub200", "cars196")),
}


def _differences(a, b, prefix=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _differences(a.get(key), b.get(key), f"{prefix}{key}.")
    elif a != b:
        yield prefix.rstrip(".")


def test_rehearsal_config_is_paper_config_but_where_it_says():
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    rehearsal_text = (ROOT / "config" / "rehearsal.yaml").read_text()
    rehearsal = yaml.safe_load(rehearsal_text)
    assert set(_differences(paper, rehearsal)) == ALLOWED
    cfg = C.validate(rehearsal)
    assert cfg["experiments"]["synthetic_mlp"]["training"]["epochs"] == 50  # the paper's
    # it reads what `python -m dmlstudy.rehearsal <data_root>` writes
    for name in ("mnist", "cifar10", "cub200", "cars196"):
        assert cfg["datasets"][name]["root"] == str(R.part_folder(cfg["data_root"], name))
    assert cfg["backbones"]["vit_b32"]["model"] == str(R.part_folder(cfg["data_root"], "vit"))
    assert rehearsal_text.count("CHANGED") >= 6
