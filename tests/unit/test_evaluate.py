"""The evaluation stage starts without torch."""

import subprocess
import sys


def test_evaluation_and_its_wrapper_do_not_import_torch():
    code = (
        "import sys\n"
        "import dmlstudy.evaluate, dmlstudy.scripting, dmlstudy.config, dmlstudy.losses\n"
        "import dmlstudy.sampling\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_metrics_json_has_the_reality_check_metrics(tmp_path):
    """metrics.json carries P@1 and R-Precision beside MAP@R, computed on the test split
    without its outliers, like the other retrieval metrics."""
    import json

    import numpy as np
    import pandas as pd

    from dmlstudy import h5io
    from dmlstudy.evaluate import evaluate_run
    from dmlstudy.retrieval import retrieval_metrics

    rng = np.random.default_rng(0)
    split = {}
    for name, n in (("train", 60), ("test", 50)):
        y = np.concatenate([np.arange(n - 5) % 4, np.full(5, -1)])
        split[name] = {"x": (rng.normal(size=(n, 8)) + y[:, None]).astype(np.float32), "y": y}
    attrs = {"kind": "vectors", "loss": "triplet", "loss_label": "Triplet", "seed": 0}
    emb = tmp_path / "embeddings.h5"
    h5io.write_splits(emb, split, {**attrs, "data_description": "d"})
    hist = tmp_path / "history.csv"
    pd.DataFrame(
        {"epoch": [0, 1], "loss": [1.0, 0.5], "active_ratio": [1.0, 0.5]}
        | {"grad_norm": [0.2, 0.1], "seconds": [0.1, 0.1], "intra_class_distance": [0.8, 0.3]}
    ).to_csv(hist, index=False)
    evaluation = {"split": "test", "include_outliers": False, "knn_k": 3, "chunk_size": 16}
    evaluation |= {"linear_probe": False, "recall_ks": [1, 2]}
    out = tmp_path / "metrics.json"
    m = evaluate_run(emb, hist, {"experiment": "exp", "evaluation": evaluation}, out)
    te = split["test"]
    keep = te["y"] != -1
    want = retrieval_metrics(te["x"][keep], te["y"][keep], (1, 2), precision=True)
    for key in ("recall@1", "recall@2", "map@r", "precision@1", "r_precision"):
        assert m[key] == want[key]
    assert 0 < m["r_precision"] < 1 and 0 < m["precision@1"] < 1
    assert json.loads(out.read_text())["r_precision"] == m["r_precision"]


def test_classification_is_undefined_on_unseen_test_classes(tmp_path):
    """A class-disjoint split: no test class was trained on, so k-NN and linear-probe
    accuracy are NaN (not 0); the retrieval metrics are still computed."""
    import math

    import numpy as np
    import pandas as pd

    from dmlstudy import h5io
    from dmlstudy.evaluate import evaluate_run

    rng = np.random.default_rng(1)
    y_tr, y_te = np.repeat([0, 1, 2], 10), np.repeat([3, 4], 10)
    split = {
        "train": {"x": rng.normal(size=(30, 4)).astype(np.float32), "y": y_tr},
        "test": {"x": (rng.normal(size=(20, 4)) + y_te[:, None]).astype(np.float32), "y": y_te},
    }
    emb = tmp_path / "embeddings.h5"
    h5io.write_splits(emb, split, {"kind": "vectors", "loss": "triplet", "loss_label": "T"}
                      | {"seed": 0, "data_description": "d"})  # fmt: skip
    hist = tmp_path / "history.csv"
    pd.DataFrame(
        {"epoch": [0, 1], "loss": [1.0, 0.5], "active_ratio": [1.0, 0.5], "grad_norm": [0.2, 0.1]}
        | {"seconds": [0.1, 0.1], "intra_class_distance": [0.8, 0.3]}
    ).to_csv(hist, index=False)
    evaluation = {"split": "test", "include_outliers": False, "knn_k": 3, "chunk_size": 16}
    evaluation |= {"linear_probe": True, "recall_ks": [1]}
    m = evaluate_run(emb, hist, {"experiment": "e", "evaluation": evaluation}, tmp_path / "m.json")
    assert math.isnan(m["knn_accuracy"]) and math.isnan(m["linear_probe_accuracy"])
    assert 0 < m["map@r"] <= 1 and 0 < m["precision@1"] <= 1


def test_input_metrics_score_the_flattened_input_like_embeddings(tmp_path):
    """The reality check's 'Input, untrained' row: an image file's x, flattened to vectors,
    scored without its outliers exactly as a run's test embeddings are; k-NN accuracy is
    the plain majority vote of the k nearest training images (by hand on a tiny case)."""
    import numpy as np
    import pytest

    from dmlstudy import h5io
    from dmlstudy.evaluate import input_metrics
    from dmlstudy.retrieval import retrieval_metrics

    rng = np.random.default_rng(2)
    split = {}
    for name, n in (("train", 40), ("test", 24)):
        y = np.concatenate([np.arange(n - 4) % 3, np.full(4, -1)])
        x = rng.integers(0, 255, size=(n, 1, 3, 3)).astype(np.uint8)  # images, (N, C, H, W)
        x[:, 0, 0, 0] = 80 * y.clip(0)  # one pixel tells the class
        split[name] = {"x": x, "y": y}
    path = tmp_path / "data.h5"
    h5io.write_splits(path, split, {"kind": "images"})
    evaluation = {"split": "test", "include_outliers": False, "knn_k": 1, "chunk_size": 7}
    evaluation |= {"linear_probe": True, "recall_ks": [1, 2]}  # the probe is never run
    m = input_metrics(path, evaluation)
    te, tr = split["test"], split["train"]
    keep = te["y"] != -1
    xte = te["x"][keep].reshape(keep.sum(), -1).astype(np.float32)
    want = retrieval_metrics(xte, te["y"][keep], (1, 2), precision=True)
    for key in ("recall@1", "recall@2", "map@r", "precision@1", "r_precision"):
        assert m[key] == pytest.approx(want[key], rel=1e-12)  # another chunk size
    assert "linear_probe_accuracy" not in m
    # 1-NN by brute force over the training images without outliers
    ktr = tr["y"] != -1
    xtr = tr["x"][ktr].reshape(ktr.sum(), -1).astype(np.float64)
    d = ((xte[:, None, :].astype(np.float64) - xtr[None]) ** 2).sum(-1)
    assert m["knn_accuracy"] == np.mean(tr["y"][ktr][d.argmin(1)] == te["y"][keep])
