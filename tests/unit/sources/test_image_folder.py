"""Source ``image_folder``: one subfolder per class, optional train/ and test/, any format
Pillow opens, unreadable images named."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fixtures_formats import assert_image_prepared, write_image_folder
from PIL import Image

from dmlstudy import config as C
from dmlstudy import features, h5io, sources
from dmlstudy.errors import ConfigError, CorruptFileError, DataNotFoundError
from dmlstudy.sources import check_available, prepare_dataset, prepare_to_file
from dmlstudy.sources.image_folder import image_extensions


def _spec(root, **options):
    return C.validate_dataset({"source": "image_folder", "root": str(root), **options}, "shapes")


def _prepare(root, **options):
    return prepare_dataset(_spec(root, **options), "shapes", 0)


def test_classes_are_the_sorted_subfolders_and_paths_resolve(tmp_path):
    written = write_image_folder(tmp_path / "f", per_class=5)
    p = _prepare(tmp_path / "f")
    assert p.attrs["kind"] == "image_files" and p.attrs["class_names"] == ["cat", "dog", "fox"]
    assert p.attrs["image_root"] == str((tmp_path / "f").resolve())
    paths = np.concatenate([p.splits[s]["paths"] for s in ("train", "test")])
    labels = np.concatenate([p.splits[s]["y"] for s in ("train", "test")])
    assert sorted(paths) == sorted(str(w.relative_to(tmp_path / "f")) for w in written)
    for rel, y in zip(paths, labels, strict=True):  # the label is the class folder's index
        assert rel.split("/")[0] == p.attrs["class_names"][y]
    # stratified: each class puts round(5 * 0.2) = 1 image in test
    assert np.bincount(p.splits["test"]["y"]).tolist() == [1, 1, 1]
    assert "3 classes, stratified split" in p.attrs["description"]
    # the paths resolve the way the feature extractor resolves them
    out = tmp_path / "d.h5"
    prepare_to_file(_spec(tmp_path / "f"), "shapes", out)
    attrs = h5io.read_attrs(out)
    files, _ = features._read_images(out, "train", attrs)
    assert all(Path(f).is_file() and Path(f).is_absolute() for f in files)
    # another seed, another stratified draw; the same seed, the same one
    again = prepare_dataset(_spec(tmp_path / "f"), "shapes", 0)
    np.testing.assert_array_equal(again.splits["test"]["paths"], p.splits["test"]["paths"])
    other = prepare_dataset(_spec(tmp_path / "f", seed=3), "shapes", 3)
    assert set(other.splits["test"]["paths"]) != set(p.splits["test"]["paths"])


def test_train_and_test_folders_are_the_split(tmp_path):
    write_image_folder(tmp_path / "f", per_class=4, split=True)
    for split in ("auto", "folders"):
        p = _prepare(tmp_path / "f", split=split)
        assert [len(p.splits[s]["y"]) for s in ("train", "test")] == [12, 6]
        assert all(r.startswith("train/") for r in p.splits["train"]["paths"])
        assert all(r.startswith("test/") for r in p.splits["test"]["paths"])
        assert "train/ and test/ folders" in p.attrs["description"]
    # stratified pools both sides and splits them again
    p = _prepare(tmp_path / "f", split="stratified", test_fraction=0.5)
    assert np.bincount(p.splits["test"]["y"]).tolist() == [3, 3, 3]


def test_class_disjoint_trains_on_the_first_half_of_the_classes(tmp_path):
    classes = ("ant", "bee", "cat", "dog", "fox")
    write_image_folder(tmp_path / "f", per_class=2, classes=classes)
    p = _prepare(tmp_path / "f", split="class_disjoint")
    assert set(p.splits["train"]["y"]) == {0, 1} and set(p.splits["test"]["y"]) == {2, 3, 4}
    write_image_folder(tmp_path / "three", per_class=2)
    with pytest.raises(ConfigError, match="class_disjoint needs at least 4 classes"):
        _prepare(tmp_path / "three", split="class_disjoint")


def test_decoded_images_of_one_size(tmp_path):
    write_image_folder(tmp_path / "f", per_class=4)
    p = _prepare(tmp_path / "f", image_size=16)
    assert_image_prepared(p, 3, (16, 16))
    x = p.splits["train"]["x"]
    np.testing.assert_allclose(p.attrs["normalize_mean"], (x / 255.0).mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(p.attrs["normalize_std"], (x / 255.0).std(axis=(0, 2, 3)))
    # each image is its file resized whole: the class colour survives in the mean pixel
    red = x[p.splits["train"]["y"] == 0].astype(float).mean(axis=(0, 2, 3))
    assert red[0] > red[1] + 50
    gray = _prepare(tmp_path / "f", image_size=12, grayscale=True, normalize_mean=[0.5])
    assert_image_prepared(gray, 1, (12, 12))
    assert gray.attrs["normalize_mean"] == [0.5]
    with pytest.raises(ConfigError, match="one value per channel"):
        _prepare(tmp_path / "f", image_size=12, normalize_mean=[0.5])


def test_any_format_pillow_opens_and_other_files_are_skipped(tmp_path):
    write_image_folder(tmp_path / "f", per_class=2)
    img = Image.new("RGB", (9, 7), (1, 2, 3))
    formats = {"bmp": "BMP", "tif": "TIFF", "gif": "GIF", "webp": "WEBP"}
    for ext, fmt in formats.items():
        img.save(tmp_path / "f" / "cat" / f"more.{ext}", format=fmt)
    (tmp_path / "f" / "cat" / "README.txt").write_text("not an image")
    (tmp_path / "f" / "cat" / ".hidden.png").write_bytes(b"hidden: never read")
    (tmp_path / "f" / "dog" / "deeper").mkdir()
    img.save(tmp_path / "f" / "dog" / "deeper" / "x.PNG")  # nested, upper-case extension
    assert {".bmp", ".tif", ".gif", ".webp", ".png", ".jpg", ".jpeg"} <= image_extensions()
    p = _prepare(tmp_path / "f", split="stratified", test_fraction=0.1)
    names = set(np.concatenate([p.splits[s]["paths"] for s in ("train", "test")]))
    assert {f"cat/more.{ext}" for ext in formats} | {"dog/deeper/x.PNG"} <= names
    assert not any("README" in n or "hidden" in n for n in names)
    decoded = _prepare(tmp_path / "f", image_size=8)
    assert len(decoded.splits["train"]["y"]) + len(decoded.splits["test"]["y"]) == len(names)


def test_an_unreadable_image_is_named(tmp_path):
    write_image_folder(tmp_path / "f", per_class=3)
    (tmp_path / "f" / "dog" / "junk.png").write_bytes(b"this is not a PNG")
    good = (tmp_path / "f" / "cat" / "cat_0.png").read_bytes()
    (tmp_path / "f" / "fox" / "cut.png").write_bytes(good[: len(good) // 2])
    check_available(_spec(tmp_path / "f"), "shapes")  # the cheap check opens no image
    for options in ({}, {"image_size": 8}):
        with pytest.raises(CorruptFileError) as exc:
            _prepare(tmp_path / "f", **options)
        msg = str(exc.value)
        assert "2 of 11 images cannot be read" in msg
        assert str((tmp_path / "f" / "dog" / "junk.png").resolve()) in msg
        assert str((tmp_path / "f" / "fox" / "cut.png").resolve()) in msg
        assert "replace or delete these files" in msg


def test_a_truncated_jpeg_is_named_where_it_is_decoded(tmp_path):
    """Pillow's verify() reads a JPEG's header only: a truncated one passes the prepare
    check of a files dataset and is named by the extraction that decodes it; a decoded
    dataset names it at once."""
    write_image_folder(tmp_path / "f", per_class=3)
    cut = tmp_path / "f" / "dog" / "dog_1.jpg"
    noise = np.random.default_rng(0).integers(0, 256, size=(90, 120, 3), dtype=np.uint8)
    Image.fromarray(noise).save(cut, format="JPEG")
    cut.write_bytes(cut.read_bytes()[:-2000])  # header intact, image data cut short
    with pytest.raises(CorruptFileError, match="dog_1.jpg"):
        _prepare(tmp_path / "f", image_size=8)
    out = tmp_path / "d.h5"
    prepare_to_file(_spec(tmp_path / "f", split="stratified", test_fraction=0.5), "shapes", out)
    attrs = h5io.read_attrs(out)
    files = [f for s in ("train", "test") for f in features._read_images(out, s, attrs)[0]]
    assert str(cut.resolve()) in files
    with pytest.raises(CorruptFileError, match=f"{cut.resolve()}: cannot decode image"):
        features.decode_image(str(cut.resolve()))


def test_missing_or_malformed_folders_say_what_layout_is_expected(tmp_path):
    with pytest.raises(DataNotFoundError) as exc:
        check_available(_spec(tmp_path / "nothing"), "shapes")
    assert str(tmp_path / "nothing") in str(exc.value)
    assert "root/<class>/<image>" in str(exc.value)
    assert "datasets.shapes.root" in str(exc.value)

    write_image_folder(tmp_path / "f", per_class=2)
    (tmp_path / "f" / "empty_class").mkdir()
    (tmp_path / "f" / "empty_class" / "notes.txt").write_text("no images here")
    with pytest.raises(DataNotFoundError) as exc:
        check_available(_spec(tmp_path / "f"), "shapes")
    assert str(tmp_path / "f" / "empty_class") in str(exc.value)
    assert "no image Pillow opens" in str(exc.value)

    shutil.rmtree(tmp_path / "f" / "empty_class")
    with pytest.raises(DataNotFoundError, match="split: folders reads root/train/"):
        check_available(_spec(tmp_path / "f", split="folders"), "shapes")

    write_image_folder(tmp_path / "one", per_class=2, classes=("cat",))
    with pytest.raises(DataNotFoundError, match="found 1 class"):
        check_available(_spec(tmp_path / "one"), "shapes")

    write_image_folder(tmp_path / "s", per_class=2, split=True)
    write_image_folder(tmp_path / "s", per_class=2, classes=("stray",))
    with pytest.raises(CorruptFileError, match="holds train/ and test/ and also the folders"):
        check_available(_spec(tmp_path / "s"), "shapes")


def test_the_config_knows_what_each_mode_holds(tmp_path):
    def cfg(model, **options):
        exp = {"dataset": "shapes", "model": model}
        if model == "head":
            exp["backbone"] = "eff"
        return {
            "datasets": {"shapes": {"source": "image_folder", **options}},
            "backbones": {"eff": {"kind": "efficientnet_lite0"}},
            "experiments": {"e": exp},
        }

    C.validate(cfg("head"))
    C.validate(cfg("head", image_size=32))
    C.validate(cfg("cnn", image_size=32))
    with pytest.raises(ConfigError, match="model 'cnn' needs decoded images"):
        C.validate(cfg("cnn"))
    with pytest.raises(ConfigError, match="'datasets.shapes.image_size' = 4 is out of range"):
        C.validate(cfg("cnn", image_size=4))
    spec = C.validate(cfg("head"))["datasets"]["shapes"]
    assert spec["root"] == "data/shapes" and spec["split"] == "auto"
    assert sources.paper_dataset(spec) is None
