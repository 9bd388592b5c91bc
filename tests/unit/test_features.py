"""Frozen-backbone feature extraction through the real loading paths.

The HF ViT is a tiny randomly initialised model saved with ``save_pretrained`` and loaded
back through ``from_pretrained(folder)``; EfficientNet-Lite0 uses its real packaged weights.
"""

from __future__ import annotations

import time

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from dmlstudy import backbones, features, h5io
from dmlstudy import config as C
from dmlstudy.backbones import hf_vit
from dmlstudy.device import resolve_device
from dmlstudy.errors import BackboneUnavailableError, ConfigError, DataNotFoundError


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def _images_h5(path, n_train=7, n_test=5, channels=1, hw=28, num_classes=3):
    rng = np.random.default_rng(0)
    splits = {}
    for split, n in (("train", n_train), ("test", n_test)):
        splits[split] = {
            "x": rng.integers(0, 256, size=(n, channels, hw, hw), dtype=np.uint8),
            "y": (np.arange(n) % num_classes).astype(np.int64),
        }
    attrs = {
        "kind": "images",
        "description": "tiny test images",
        "num_classes": num_classes,
        "source": "test",
        "normalize_mean": [0.5] * channels,
        "normalize_std": [0.5] * channels,
    }
    h5io.write_splits(path, splits, attrs)
    return splits


def _spec(**kw):
    """A backbone entry as the validated config holds it (schema defaults filled in)."""
    return C.with_defaults("backbone", kw)


def _vit_spec(folder, **kw):
    return _spec(
        **{"kind": "hf_vit", "model": str(folder), "name": "tinyvit", "image_size": None, **kw}
    )


def test_hf_vit_extraction_batch_invariant(tmp_path, tiny_vit_dir):
    data = tmp_path / "data.h5"
    splits = _images_h5(data)
    out1, outall = tmp_path / "b1.h5", tmp_path / "ball.h5"
    spec = _vit_spec(tiny_vit_dir)
    features.extract_features(data, out1, spec, device="cpu", batch_size=1, num_workers=0)
    attrs = features.extract_features(
        data, outall, spec, device="auto", batch_size=64, num_workers=2, progress=False
    )
    for split in ("train", "test"):
        a = h5io.read_split(out1, split)
        b = h5io.read_split(outall, split)
        assert a["x"].shape == (len(splits[split]["y"]), 32)
        assert a["x"].dtype == np.float32
        np.testing.assert_allclose(a["x"], b["x"], atol=1e-5, rtol=0)
        np.testing.assert_array_equal(a["y"], splits[split]["y"])
        assert np.isfinite(a["x"]).all()
        # different images give different features (not a constant output)
        assert np.ptp(a["x"], axis=0).max() > 1e-3

    stored = h5io.read_attrs(outall)
    assert stored == h5io.read_attrs(out1) | {
        k: stored[k] for k in ("device", "compute_dtype", "input_file")
    }
    for key in ("kind", "description", "backbone", "model", "revision", "weights"):
        assert key in stored
    assert stored["kind"] == "vectors"
    assert stored["backbone"] == "hf_vit"
    assert stored["model"] == str(tiny_vit_dir.resolve())
    assert stored["dtype"] == "float32"
    assert stored["feature_dim"] == 32
    assert stored["num_classes"] == 3
    assert "tiny test images" in stored["description"]
    assert stored["source"] == "test"  # dataset provenance carried over
    assert "normalize_mean" not in stored  # image normalisation no longer applies
    prep = stored["preprocessing"]
    assert prep["size"] == 32  # native size from the model's config
    assert prep["mean"] == [0.5, 0.5, 0.5] and prep["std"] == [0.5, 0.5, 0.5]
    assert prep["interpolation"] == "bilinear"
    assert attrs["feature_dim"] == 32


def test_hf_vit_features_match_direct_forward(tmp_path, tiny_vit_dir):
    """The stored feature is the CLS token of last_hidden_state for the preprocessed image."""
    from transformers import ViTModel

    data = tmp_path / "data.h5"
    splits = _images_h5(data, n_train=3, n_test=2, channels=3, hw=32)
    out = tmp_path / "f.h5"
    features.extract_features(data, out, _vit_spec(tiny_vit_dir), device="cpu", num_workers=0)
    model = ViTModel.from_pretrained(tiny_vit_dir).eval()
    x = torch.from_numpy(splits["test"]["x"]).float() / 255.0
    with torch.no_grad():
        ref = model(pixel_values=(x - 0.5) / 0.5).last_hidden_state[:, 0].numpy()
    np.testing.assert_allclose(h5io.read_split(out, "test")["x"], ref, atol=1e-5)


def test_hf_vit_reads_mean_std_from_preprocessor_config(tmp_path, tiny_vit_dir):
    import shutil

    from transformers import ViTImageProcessor

    folder = tmp_path / "vit_with_proc"
    shutil.copytree(tiny_vit_dir, folder)
    ViTImageProcessor(image_mean=[0.1, 0.2, 0.3], image_std=[0.4, 0.5, 0.6]).save_pretrained(folder)
    _, prep = features.load_backbone(_vit_spec(folder, image_size=48), "cpu")
    assert prep["mean"] == pytest.approx([0.1, 0.2, 0.3])
    assert prep["std"] == pytest.approx([0.4, 0.5, 0.6])
    assert prep["size"] == 48


def test_hf_vit_non_native_size_interpolates_positions(tmp_path, tiny_vit_dir):
    data = tmp_path / "data.h5"
    _images_h5(data, n_train=2, n_test=2)
    out = tmp_path / "f.h5"
    features.extract_features(
        data, out, _vit_spec(tiny_vit_dir, image_size=48), device="cpu", num_workers=0
    )
    assert h5io.read_split(out, "train")["x"].shape == (2, 32)


def test_unreachable_hub_id_fails_fast_with_fix(tmp_path):
    start = time.monotonic()
    with pytest.raises(BackboneUnavailableError) as info:
        features.load_backbone(
            _spec(kind="hf_vit", model="google/vit-base-patch32-224-in21k", name="vit"),
            "cpu",
        )
    assert time.monotonic() - start < 5
    msg = str(info.value)
    assert "backbones.vit.model" in msg
    assert "local folder" in msg and "save_pretrained" in msg
    assert "google/vit-base-patch32-224-in21k" in msg


def test_unreachable_hub_without_offline_flag_fails_fast(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    monkeypatch.setattr(hf_vit, "_endpoint_reachable", lambda timeout=3.0: False)
    start = time.monotonic()
    with pytest.raises(BackboneUnavailableError, match="local folder"):
        features.load_backbone(_spec(kind="hf_vit", name="vit"), "cpu")
    assert time.monotonic() - start < 5


def test_missing_local_folder_is_reported(tmp_path):
    with pytest.raises(BackboneUnavailableError, match="does not exist"):
        features.load_backbone(_vit_spec(tmp_path / "nope" / "vit"), "cpu")


def test_torchvision_weights_unreachable_names_cache_folder(monkeypatch, tmp_path):
    from urllib.error import URLError

    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    def no_network(*args, **kwargs):
        raise URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", no_network)
    with pytest.raises(BackboneUnavailableError) as info:
        features.load_backbone(_spec(kind="torchvision_vit_b_32", name="tv"), "cpu")
    msg = str(info.value)
    assert "vit_b_32-d86f8d99.pth" in msg
    assert str(tmp_path / "torch_home") in msg
    assert "backbones.tv.weights" in msg


def test_torchvision_missing_weights_file(tmp_path):
    with pytest.raises(BackboneUnavailableError, match="neither"):
        features.load_backbone(
            _spec(kind="torchvision_vit_b_32", weights=str(tmp_path / "x.pth")), "cpu"
        )


def test_torchvision_vit_b_32_from_local_pth(tmp_path):
    import torchvision

    with torch.device("meta"):
        shapes = {k: v.shape for k, v in torchvision.models.vit_b_32().state_dict().items()}
    pth = tmp_path / "vit_b_32.pth"
    torch.save({k: torch.full(s, 0.01) for k, s in shapes.items()}, pth)
    data = tmp_path / "data.h5"
    _images_h5(data, n_train=1, n_test=1, channels=3, hw=16)
    out = tmp_path / "f.h5"
    spec = _spec(kind="torchvision_vit_b_32", weights=str(pth), name="tv")
    features.extract_features(data, out, spec, device="cpu", num_workers=0)
    x = h5io.read_split(out, "test")["x"]
    assert x.shape == (1, 768) and np.isfinite(x).all()
    attrs = h5io.read_attrs(out)
    assert attrs["weights"] == str(pth.resolve())
    assert attrs["preprocessing"]["mean"] == pytest.approx([0.485, 0.456, 0.406])


def test_image_files_kind_decodes_jpegs(tmp_path, tiny_vit_dir):
    rng = np.random.default_rng(1)
    img_dir = tmp_path / "imgs"
    img_dir.mkdir()
    splits = {}
    for split, n in (("train", 3), ("test", 2)):
        paths = []
        for i in range(n):
            h, w = 20 + 5 * i, 30 - 3 * i  # varying, non-square sizes
            arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
            p = img_dir / f"{split}_{i}.jpg"
            Image.fromarray(arr).save(p, quality=90)
            paths.append(p.name)
        splits[split] = {"paths": np.array(paths), "y": np.arange(n, dtype=np.int64)}
    data = tmp_path / "files.h5"
    h5io.write_splits(
        data,
        splits,
        {
            "kind": "image_files",
            "description": "jpeg files",
            "num_classes": 3,
            "image_root": str(img_dir),
        },
    )
    out = tmp_path / "f.h5"
    features.extract_features(data, out, _vit_spec(tiny_vit_dir), device="cpu", num_workers=2)
    got = h5io.read_split(out, "train")
    assert got["x"].shape == (3, 32) and np.isfinite(got["x"]).all()
    # the same image decoded directly gives the same feature
    backbone, prep = features.load_backbone(_vit_spec(tiny_vit_dir), "cpu")
    img = features.decode_image(str(img_dir / "train_1.jpg"))
    assert tuple(img.shape) == (3, 25, 27)
    x = features.preprocess_image(img, prep["size"], prep["mean"], prep["std"])
    with torch.inference_mode():
        ref = backbone(x[None]).numpy()[0]
    np.testing.assert_allclose(got["x"][1], ref, atol=1e-5)
    assert h5io.read_attrs(out)["input_kind"] == "image_files"


def test_image_files_missing_file_reported_before_work(tmp_path, tiny_vit_dir):
    splits = {
        s: {"paths": np.array([str(tmp_path / f"{s}.jpg")]), "y": np.zeros(1, np.int64)}
        for s in ("train", "test")
    }
    data = tmp_path / "files.h5"
    h5io.write_splits(data, splits, {"kind": "image_files", "description": "d", "num_classes": 1})
    with pytest.raises(DataNotFoundError, match="train.jpg"):
        features.extract_features(data, tmp_path / "f.h5", _vit_spec(tiny_vit_dir), device="cpu")
    assert not (tmp_path / "f.h5").exists()


def test_vectors_input_is_rejected(tmp_path, tiny_vit_dir):
    data = tmp_path / "v.h5"
    h5io.write_splits(
        data,
        {
            s: {"x": np.zeros((2, 4), np.float32), "y": np.zeros(2, np.int64)}
            for s in ("train", "test")
        },
        {"kind": "vectors"},
    )
    with pytest.raises(ConfigError, match="image dataset"):
        features.extract_features(data, tmp_path / "f.h5", _vit_spec(tiny_vit_dir), device="cpu")


def test_interrupted_extraction_leaves_no_output(tmp_path, tiny_vit_dir, monkeypatch):
    data = tmp_path / "data.h5"
    _images_h5(data)
    out = tmp_path / "out" / "f.h5"
    calls = {"n": 0}
    original = hf_vit._HFViT.forward

    def dies_on_second_batch(self, x):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, x)

    monkeypatch.setattr(hf_vit._HFViT, "forward", dies_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        features.extract_features(
            data, out, _vit_spec(tiny_vit_dir), device="cpu", batch_size=2, num_workers=0
        )
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_interrupted_write_leaves_no_output_and_keeps_old(tmp_path, tiny_vit_dir, monkeypatch):
    data = tmp_path / "data.h5"
    _images_h5(data)
    out = tmp_path / "f.h5"
    spec = _vit_spec(tiny_vit_dir)
    original = h5py.Group.create_dataset
    calls = {"n": 0}

    def dies_mid_write(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", dies_mid_write)
    with pytest.raises(OSError, match="disk full"):
        features.extract_features(data, out, spec, device="cpu", num_workers=0)
    assert not out.exists()
    assert list(tmp_path.glob("*.part")) == [] and list(tmp_path.glob(".f.h5*")) == []

    # an older complete file survives a failed rewrite
    monkeypatch.setattr(h5py.Group, "create_dataset", original)
    features.extract_features(data, out, spec, device="cpu", num_workers=0)
    before = h5io.read_split(out, "train")["x"]
    calls["n"] = 0
    monkeypatch.setattr(h5py.Group, "create_dataset", dies_mid_write)
    with pytest.raises(OSError):
        features.extract_features(data, out, spec, device="cpu", num_workers=0)
    monkeypatch.setattr(h5py.Group, "create_dataset", original)
    np.testing.assert_array_equal(h5io.read_split(out, "train")["x"], before)


def test_efficientnet_lite0_real_weights(tmp_path):
    data = tmp_path / "data.h5"
    _images_h5(data, n_train=2, n_test=1, channels=3, hw=40)
    out1, out2 = tmp_path / "a.h5", tmp_path / "b.h5"
    spec = _spec(kind="efficientnet_lite0")
    features.extract_features(data, out1, spec, device="cpu", batch_size=1, num_workers=0)
    features.extract_features(data, out2, spec, device="cpu", batch_size=8, num_workers=0)
    a, b = h5io.read_split(out1, "train"), h5io.read_split(out2, "train")
    assert a["x"].shape == (2, 1280)
    assert np.isfinite(a["x"]).all() and np.abs(a["x"]).sum() > 0
    np.testing.assert_allclose(a["x"], b["x"], atol=1e-4, rtol=1e-4)
    attrs = h5io.read_attrs(out1)
    assert attrs["weights"].endswith(".pth")
    assert attrs["preprocessing"]["size"] == 224
    assert attrs["preprocessing"]["mean"] == [0.5, 0.5, 0.5]


def test_backbone_defaults_come_from_the_schema_and_vit_b_32_needs_224():
    spec = _spec(kind="hf_vit")
    assert spec["model"] == "google/vit-base-patch32-224-in21k"
    assert spec["batch_size"] == 64 and spec["num_workers"] == 2 and spec["image_size"] == 224
    with pytest.raises(ConfigError, match="224"):
        features.load_backbone(_spec(kind="torchvision_vit_b_32", image_size=256), "cpu")


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            resolve_device("cuda")


def test_preprocess_grayscale_and_resize():
    img = torch.full((1, 10, 10), 255, dtype=torch.uint8)
    x = features.preprocess_image(img, 16, [0.5] * 3, [0.5] * 3)
    assert x.shape == (3, 16, 16)
    assert torch.allclose(x, torch.ones_like(x))


def _reference(img, size, mean, std):
    """preprocess_image as it was at d0eace4, for the bit-for-bit checks below."""
    x = img if img.dtype == torch.uint8 else img.to(torch.float32)
    if tuple(x.shape[1:]) != (size, size):
        x = torch.nn.functional.interpolate(
            x[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )[0]
    x = x.to(torch.float32) / 255.0 if img.dtype == torch.uint8 else x
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    mean = torch.as_tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (x - mean) / std


def _photos(folder, n=6):
    rng = np.random.default_rng(2)
    paths = []
    for i in range(n):
        h, w = 30 + 7 * i, 50 - 3 * i
        arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        img = Image.fromarray(arr)
        if i % 3 == 1:
            img = img.convert("L")  # a grayscale photo: converted to RGB
        elif i % 3 == 2:
            img = img.convert("CMYK")  # and a CMYK one
        paths.append(str(folder / f"p{i}.jpg"))
        img.save(paths[-1], format="JPEG")
    return paths


def test_batches_are_bit_for_bit_the_images_one_by_one(tmp_path):
    """__getitems__ writes each image into its row of the batch: the same values as the
    per-image path and as the arithmetic of before, for arrays and for files, in one
    process and through a DataLoader worker (shared memory)."""
    from torch.utils.data import DataLoader

    prep = {"size": 24, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, size=(9, 1, 28, 28), dtype=np.uint8)
    rgb = rng.integers(0, 256, size=(7, 3, 32, 32), dtype=np.uint8)
    same_size = rng.integers(0, 256, size=(3, 3, 24, 24), dtype=np.uint8)  # no resize
    files = _photos(tmp_path)
    parts = [features.ImageDataset(p, prep) for p in (gray, rgb, same_size, files)]
    want = []
    for p in (gray, rgb, same_size):
        want += [_reference(torch.from_numpy(x), 24, prep["mean"], prep["std"]) for x in p]
    for f in files:
        with Image.open(f) as im:
            arr = np.asarray(im.convert("RGB"))  # the old decoding
        img = torch.from_numpy(arr.copy()).permute(2, 0, 1)
        want.append(_reference(img, 24, prep["mean"], prep["std"]))
    want = torch.stack(want)
    splits = features._Splits(parts)
    assert len(splits) == len(want)
    assert torch.equal(torch.stack([splits[i] for i in range(len(splits))]), want)
    assert torch.equal(splits.__getitems__(list(range(len(splits)))), want)  # spans all parts
    for workers in (0, 1):
        loader = DataLoader(
            splits, batch_size=5, num_workers=workers, collate_fn=features._as_batch
        )
        assert torch.equal(torch.cat(list(loader)), want), workers


def test_snakemake_script_writes_features_and_log(tmp_path, tiny_vit_dir):
    """The workflow script, run as Snakemake runs it (a fresh interpreter, `snakemake` injected)."""
    import subprocess
    import sys
    from pathlib import Path

    data = tmp_path / "data.h5"
    _images_h5(data, n_train=3, n_test=2)
    out, log = tmp_path / "features" / "tiny.h5", tmp_path / "logs" / "extract.log"
    log.parent.mkdir()
    script = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "extract_features.py"
    driver = f"""
import runpy
from types import SimpleNamespace as NS
smk = NS(
    input=NS(data={str(data)!r}),
    output=NS(features={str(out)!r}),
    params=NS(backbone={_vit_spec(tiny_vit_dir)!r}, device="cpu", batch_size=2, num_workers=0),
    threads=1,
    log=[{str(log)!r}],
)
runpy.run_path({str(script)!r}, init_globals={{"snakemake": smk}}, run_name="__main__")
"""
    res = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr + log.read_text()
    assert h5io.read_split(out, "train")["x"].shape == (3, 32)
    text = log.read_text()
    assert "tinyvit train" in text and "wrote" in text  # progress bar and summary in the log

    bad = driver.replace(repr(str(tiny_vit_dir)), repr(str(tmp_path / "missing")))
    res = subprocess.run([sys.executable, "-c", bad], capture_output=True, text=True)
    assert res.returncode == 1
    assert "does not exist" in res.stderr and "does not exist" in log.read_text()


# --------------------------------------------------------------------------- the registry
class _MeanColour(backbones.base.Backbone):
    """A toy backbone: each channel's mean pixel, in the preprocessed [-1, 1] range."""

    feature_dim = 3

    def forward(self, x):
        return x.mean(dim=(2, 3))


def test_a_registered_backbone_extracts_features(tmp_path, monkeypatch):
    """A new backbone is one registry entry: the config accepts its kind, extraction loads it
    through the entry's loader, and the file records what ran."""
    spec = backbones.BackboneSpec(
        "mean_colour",
        "mean pixel per channel",
        load=lambda s: (
            _MeanColour({"model": "toy", "revision": None, "weights": None}),
            {
                "size": 8,
                "mean": [0.5] * 3,
                "std": [0.5] * 3,
            },
        ),
    )
    monkeypatch.setitem(backbones.BACKBONES, "mean_colour", spec)
    data = tmp_path / "d.h5"
    splits = _images_h5(data, hw=8)
    attrs = features.extract_features(
        data, tmp_path / "f.h5", _spec(kind="mean_colour"), "cpu", num_workers=0, progress=False
    )
    feats = h5io.read_split(tmp_path / "f.h5", "train")
    expected = splits["train"]["x"].astype(np.float64).mean(axis=(1, 2, 3)) / 255 * 2 - 1
    np.testing.assert_allclose(feats["x"][:, 0], expected, atol=1e-5)
    assert attrs["backbone"] == "mean_colour" and attrs["feature_dim"] == 3
    assert not backbones.get("mean_colour").is_paper_backbone({})
    assert backbones.get("torchvision_vit_b_32").is_paper_backbone({})
    assert backbones.get("hf_vit").is_paper_backbone({"model": "google/vit-base-patch32-224-in21k"})
