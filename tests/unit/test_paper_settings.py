"""The paper's settings: written once in the schema (x-paper), read by paper_settings(),
rendered into docs/paper_vs_code.md."""

from pathlib import Path

from dmlstudy import config as C
from dmlstudy import paper_settings as PS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "paper_vs_code.md"


def test_paper_settings():
    paper = PS.paper_settings()
    assert paper["loss.margin"] == 1.0 and paper["training.epochs"] == 50
    assert paper["training.weight_decay"] == 1e-5 and paper["training.lr"] == 1e-3
    assert (
        paper["source_synthetic.n_classes"] == 10 and paper["source_synthetic.outlier_std"] == 15.0
    )
    assert paper["experiment.model_options.embedding_dim"] == {"mlp": 32, "cnn": 64, "head": 512}
    assert all(isinstance(v, (int, float, str, bool, dict)) for v in paper.values())


def test_schema_defaults_are_the_paper_values():
    """Where a paper setting has a schema default, the default is the paper's value."""
    schema = C.load_schema()
    for key, value in PS.paper_settings().items():
        node = schema["$defs"][key.split(".")[0]]
        for part in key.split(".")[1:]:
            node = node["properties"][part]
        if "default" in node:
            assert node["default"] == value, key


def test_docs_table_is_current(tmp_path):
    text = DOC.read_text()
    start = text.index(PS.TABLE_BEGIN) + len(PS.TABLE_BEGIN)
    table = text[start : text.index(PS.TABLE_END)].strip()
    assert table == PS.table(), (
        "docs/paper_vs_code.md is stale: python -m dmlstudy.paper_settings docs/paper_vs_code.md"
    )
    copy = tmp_path / "doc.md"
    copy.write_text(text.replace("`1.0`", "`9.9`"))
    assert PS.rewrite_table(copy) and copy.read_text() == text
    assert not PS.rewrite_table(copy)


def test_statistics_defaults():
    cfg = C.validate({"datasets": {"s": {"source": "synthetic"}},
                      "experiments": {"e": {"dataset": "s", "model": "mlp"}}})  # fmt: skip
    assert cfg["statistics"] == {
        "correction": "holm",
        "exploratory_correction": "bh",
        "alpha": 0.05,
    }
