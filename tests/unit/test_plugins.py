"""Plugins (``plugins:``): files or modules from outside the package register losses,
samplers, sources and backbones; clear errors; loaded once; their hashes in the params of
exactly the jobs that use them."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import pytest
import yaml
from conftest import REPO

from dmlstudy import backbones, losses, plugins, sampling, sources
from dmlstudy import config as C
from dmlstudy import params as P
from dmlstudy.errors import ConfigError

pytestmark = pytest.mark.usefixtures("restore_registries")

EXAMPLE = REPO / "examples" / "plugins" / "circle_loss.py"

#: A plugin that registers one of each: a loss, a sampler, a source (with its own schema)
#: and a backbone.
EVERYTHING = """
import numpy as np
from dmlstudy import backbones, losses, sampling, sources

losses.register(losses.LossSpec(
    name="abs_gap", label="Abs gap", partners="pairs",
    per_item=lambda a, b, is_pos, o: (a - b).abs().sum(dim=1), active="every pair"))
sampling.register(sampling.SamplerSpec(
    name="same_random", label="random again", partners=("pairs", "triplets", "batch"),
    batches=sampling.random_any))

def prepare(spec, name, seed):
    x = np.random.default_rng(seed).standard_normal((spec["n"], 2)).astype(np.float32)
    y = np.arange(spec["n"]) % 2
    split = {"x": x, "y": y}
    return sources.Prepared({"train": split, "test": split},
                            {"kind": "vectors", "description": "dots", "num_classes": 2})

sources.register(sources.Source(
    name="dots", kind="vectors", schema_def="source_dots", prepare=prepare,
    paper_dataset=lambda spec: None,
    schema={"type": "object", "additionalProperties": False, "properties": {
        "source": {"const": "dots"}, "n": {"type": "integer", "minimum": 2, "default": 8},
        "seed": {"type": "integer", "default": 0}}}))
backbones.register(backbones.BackboneSpec(
    name="flat_pixels", description="toy", load=lambda spec: None))
"""


def _plugin(folder, name: str, code: str):
    path = folder / name
    path.write_text(textwrap.dedent(code))
    return path


def _config(**extra) -> dict:
    return {
        "datasets": {"syn": {"source": "synthetic"}},
        "experiments": {"e": {"dataset": "syn", "model": "mlp"}},
        **extra,
    }


def test_a_plugin_file_registers_names_the_config_then_accepts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _plugin(tmp_path, "everything.py", EVERYTHING)
    with pytest.raises(ConfigError, match="'abs_gap', which is not a registered loss"):
        C.validate(_config(losses=["abs_gap"]))
    record = plugins.load(["everything.py"])
    assert record == {
        "everything.py": {
            "file": str(path.resolve()),
            "module": record["everything.py"]["module"],
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "registered": {
                "losses": ["abs_gap"],
                "samplers": ["same_random"],
                "sources": ["dots"],
                "backbones": ["flat_pixels"],
            },
        }
    }
    cfg = C.validate(
        {
            "plugins": ["everything.py"],
            "losses": ["contrastive", "abs_gap"],
            "sampling": {"sampler": "same_random"},
            "datasets": {"d": {"source": "dots"}},
            "backbones": {"b": {"kind": "flat_pixels"}},
            "experiments": {"e": {"dataset": "d", "model": "mlp"}},
        }
    )
    assert sys.modules[record["everything.py"]["module"]].prepare  # the plugin's module
    assert cfg["datasets"]["d"] == {"source": "dots", "n": 8, "seed": 0}  # its schema's defaults
    assert cfg["plugins"] == ["everything.py"]
    with pytest.raises(ConfigError, match="'datasets.d.n' = 1 is out of range"):
        C.validate_dataset({"source": "dots", "n": 1}, "d")
    # the same file again, or by another spelling of its path: imported once
    assert plugins.load(["./everything.py", str(path)]) == {
        "./everything.py": record["everything.py"],
        str(path): record["everything.py"],
    }
    assert list(losses.LOSSES).count("abs_gap") == 1


def test_validate_loads_the_configs_plugins_and_the_default_is_none(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _plugin(tmp_path, "everything.py", EVERYTHING)
    cfg = C.validate(_config(plugins=["everything.py"], losses=["abs_gap", "triplet"]))
    assert cfg["losses"] == ["abs_gap", "triplet"]
    assert C.validate(_config())["plugins"] == []
    # dmlstudy-validate FILE loads them too
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(_config(plugins=["everything.py"], losses=["abs_gap"])))
    assert C.main([str(path)]) == 0


def test_a_module_plugin_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mylab").mkdir()
    (tmp_path / "mylab" / "__init__.py").write_text("")
    _plugin(tmp_path / "mylab", "hinge.py", EVERYTHING.replace("flat_pixels", "flat2"))
    record = plugins.load(["mylab.hinge"])["mylab.hinge"]
    assert record["file"] == str(tmp_path / "mylab" / "hinge.py")
    assert record["registered"]["backbones"] == ["flat2"]
    with pytest.raises(ConfigError, match="no module named 'mylab.nothing'"):
        plugins.load(["mylab.nothing"])


#: Two lines that register a loss: a plugin that fails after them must take it back.
HALF_DONE = (
    "from dmlstudy import losses\n"
    "losses.register(losses.LossSpec('half_done', 'x', 'pairs', per_item=None, active='x'))\n"
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            HALF_DONE + "import numpy\n\nx = 1 / 0\n",
            r"failed to import \(.*bad.py, line 5: x = 1 / 0\): ",
        ),
        (HALF_DONE + "def f(:\n    pass\n", r"failed to import \(.*bad.py, line 3\): SyntaxError"),
        (HALF_DONE + "import no_such_package_xyz\n", "ModuleNotFoundError: No module named"),
        (
            HALF_DONE + "from dmlstudy.losses import get, register\nregister(get('triplet'))\n",
            r"bad.py, line 4: register\(get\('triplet'\)\)\): loss 'triplet' is registered "
            r"already; give it a name that is not taken",
        ),
        ("x = 1\n", "registered nothing. A plugin adds a loss, sampler, source or backbone"),
    ],
    ids=["raises", "syntax", "import", "duplicate", "nothing"],
)
def test_a_broken_plugin_is_one_clear_error_and_registers_nothing(
    tmp_path, monkeypatch, code, expected
):
    monkeypatch.chdir(tmp_path)
    _plugin(tmp_path, "bad.py", code)
    before = plugins.snapshot()
    with pytest.raises(ConfigError, match=expected) as exc:
        plugins.load(["bad.py"])
    assert "plugins: 'bad.py'" in str(exc.value)
    assert plugins.snapshot() == before
    assert "half_done" not in losses.LOSSES
    with pytest.raises(ConfigError, match=expected):  # validate reports the same
        C.validate(_config(plugins=["bad.py"]))


def test_a_missing_file_and_a_wrong_type(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as exc:
        plugins.load(["plugins/missing.py"])
    assert "file 'plugins/missing.py' does not exist" in str(exc.value)
    assert str(tmp_path / "plugins" / "missing.py") in str(exc.value)
    with pytest.raises(ConfigError, match="must be a list of Python files or module names"):
        plugins.load("my_loss.py")
    with pytest.raises(ConfigError, match="each item must be the path of a .py file"):
        plugins.load([3])


def test_two_plugins_of_one_file_name_do_not_collide(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for sub, loss in (("a", "gap_a"), ("b", "gap_b")):
        (tmp_path / sub).mkdir()
        _plugin(
            tmp_path / sub, "loss.py", EVERYTHING.replace("abs_gap", loss).split("\nsampling")[0]
        )
    record = plugins.load(["a/loss.py", "b/loss.py"])
    assert [r["registered"]["losses"] for r in record.values()] == [["gap_a"], ["gap_b"]]


# --------------------------------------------------------------------------- rerun keys
RECORD = {
    "loss.py": {"file": "/x/loss.py", "sha256": "aaa", "registered": {"losses": ["circle"]}},
    "data.py": {"file": "/x/data.py", "sha256": "bbb", "registered": {"sources": ["dots"]}},
}


def test_a_job_carries_the_hashes_of_exactly_the_plugins_it_uses():
    assert P.plugin_digests(RECORD, {"losses": ["circle"], "sources": ["synthetic"]}) == {
        "loss.py": "aaa"
    }
    assert P.plugin_digests(RECORD, {"losses": ["triplet"], "sources": ["dots"]}) == {
        "data.py": "bbb"
    }
    params = {"source": "synthetic"}
    assert P.with_plugins(params, RECORD, {"losses": ["triplet"]}) is params  # unchanged
    assert P.with_plugins(params, {}, {"losses": ["circle"]}) is params
    assert P.with_plugins(params, RECORD, {"losses": ["circle"]}) == {
        "source": "synthetic",
        "plugins": {"loss.py": "aaa"},
    }


def test_training_params_change_only_for_the_runs_that_use_a_plugin():
    cfg = C.validate(
        {
            "datasets": {"syn": {"source": "synthetic"}},
            "experiments": {"e": {"dataset": "syn", "model": "mlp"}},
            "sweeps": {"grids": {"e": {"triplet": {"loss.margin": [0.5]}}}},
        }
    )
    plain = P.training_params(cfg, "e", "triplet")
    assert P.training_params(cfg, "e", "triplet", "", RECORD) == plain
    assert P.training_params(cfg, "e", "circle", "", RECORD) == {
        **plain,
        "plugins": {"loss.py": "aaa"},
    }
    point = P.training_params(cfg, "e", "triplet", "loss.margin~0.5/")
    assert P.training_params(cfg, "e", "triplet", "loss.margin~0.5/", RECORD) == point


# --------------------------------------------------------------------------- in a job
def test_every_job_loads_the_plugins_before_its_function(tmp_path):
    """A job is a fresh process: ``run_job`` loads the config's plugins before importing and
    calling the job's function; a broken plugin is one line and exit status 1."""
    _plugin(tmp_path, "everything.py", EVERYTHING)
    driver = textwrap.dedent(
        """
        import sys
        from types import SimpleNamespace
        from dmlstudy.scripting import run_job

        job = SimpleNamespace(log=[], threads=1, config={"plugins": [sys.argv[1]]})
        spec = run_job(job, "dmlstudy.losses:get", "abs_gap")
        print("label:", spec.label)
        """
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src")}
    run = subprocess.run(
        [sys.executable, "-c", driver, "everything.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "label: Abs gap" in run.stdout
    _plugin(tmp_path, "broken.py", "raise RuntimeError('no GPU here')\n")
    run = subprocess.run(
        [sys.executable, "-c", driver, "broken.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 1
    assert "broken.py, line 1: raise RuntimeError('no GPU here')): RuntimeError" in run.stderr
    assert "Traceback" not in run.stderr


def test_loading_plugins_imports_no_torch(tmp_path):
    """Snakemake's main process loads the plugins at every start: the example keeps torch
    out of its import."""
    code = (
        "import sys; from dmlstudy import plugins; "
        f"plugins.load([{str(EXAMPLE)!r}]); "
        "print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src")},
    )
    assert out.stdout.strip() == "[]"


def test_the_registries_are_the_packages_own():
    assert plugins.registry("losses") is losses.LOSSES
    assert plugins.registry("samplers") is sampling.SAMPLERS
    assert plugins.registry("sources") is sources.SOURCES
    assert plugins.registry("backbones") is backbones.BACKBONES
