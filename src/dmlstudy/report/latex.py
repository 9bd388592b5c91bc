"""Numbers as a reader sees them, and booktabs tables that compile in a plain article.

Mean ± std are printed with matched precision: the std is rounded to one or two
significant digits by the Particle Data Group's rule (two when its leading three digits are
100-354 or 950-999, one otherwise) and the mean to the same decimal place, so
``0.1659 ± 0.0097`` prints as ``0.166 ± 0.010``. A table needs ``booktabs`` only and is set
at full size: its layout follows the paper's (one column group per experiment) when that
fits the text width, and puts the experiments into row groups otherwise.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

#: \textwidth of a plain 10pt article, in pt.
TEXT_WIDTH_PT = 345.0
#: \tabcolsep the tables set (LaTeX's default is 6pt).
TABCOLSEP_PT = 4.0
#: Below 10**-SCIENTIFIC_BELOW the decimals get long: print (m ± s)e-k instead.
SCIENTIFIC_DECIMALS = 5


def isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt(x: float) -> str:
    """One number alone: 4 decimals, or scientific notation for small magnitudes."""
    if isnan(x):
        return "n/a"
    if x != 0 and abs(x) < 1e-2:
        return f"{x:.1e}"
    return f"{x:.4f}"


def fmt_p(p: float) -> str:
    """A p-value: three decimals, ``< 0.001`` below that."""
    if isnan(p):
        return "n/a"
    return "< 0.001" if p < 1e-3 else f"{p:.3f}"


def std_decimals(std: float) -> int:
    """Decimal places of ``std`` rounded by the PDG rule (negative: tens, hundreds...)."""
    e = math.floor(math.log10(std))
    lead = round(std / 10 ** (e - 2))
    if lead >= 1000:
        e, lead = e + 1, 100
    if lead <= 354:
        return 1 - e
    if lead <= 949:
        return -e
    return -e  # 950-999 round up to 1000: two digits of the next power, e.g. 0.0097 -> 0.010


def _fixed(x: float, decimals: int) -> str:
    x = round(x, decimals) + 0.0  # + 0.0: no "-0.0"
    return f"{x:.{max(decimals, 0)}f}"


def pm(mean: float, std: float, n: int | None = None) -> str:
    """``mean ± std`` with matched precision (the mean alone when std is undefined)."""
    if isnan(mean):
        return "n/a"
    if isnan(std) or (n is not None and n < 2):
        return fmt(mean)
    if std == 0:
        return f"{mean:.4g} ± 0"
    decimals = std_decimals(std)
    if decimals > SCIENTIFIC_DECIMALS:
        ref = abs(mean) if mean != 0 else std
        k = math.floor(math.log10(ref))
        d = max(decimals + k, 0)
        return f"({mean / 10**k:.{d}f} ± {std / 10**k:.{d}f})e{k}"
    return f"{_fixed(mean, decimals)} ± {_fixed(std, decimals)}"


def interval(low: float, high: float, like: float | None = None) -> str:
    """``[low, high]`` at the precision of the interval's half-width."""
    if isnan(low) or isnan(high):
        return "n/a"
    half = (high - low) / 2
    if half <= 0:
        return f"[{low:.4g}, {high:.4g}]"
    d = std_decimals(half)
    if d > SCIENTIFIC_DECIMALS:
        return f"[{low:.2e}, {high:.2e}]"
    return f"[{_fixed(low, d)}, {_fixed(high, d)}]"


def signed(x: float, like_low: float, like_high: float) -> str:
    """An estimate at the precision of its interval (4 significant digits without one)."""
    if isnan(x):
        return "n/a"
    if isnan(like_low) or isnan(like_high) or like_high <= like_low:
        return f"{x:+.4g}"
    d = std_decimals((like_high - like_low) / 2)
    if d > SCIENTIFIC_DECIMALS:
        return f"{x:+.2e}"
    return ("+" if x >= 0 else "") + _fixed(x, d)


_TEXT = (
    ("\\", r"\textbackslash{}"),
    ("&", r"\&"),
    ("%", r"\%"),
    ("_", r"\_"),
    ("#", r"\#"),
    ("$", r"\$"),
    ("{", r"\{"),
    ("}", r"\}"),
)
_SYMBOLS = (
    ("<=", r"$\le$"),
    ("<", r"$<$"),
    (">", r"$>$"),
    ("±", r"$\pm$"),
    ("§", r"\S{}"),
    ("μ", r"$\mu$"),
    ("σ²", r"$\sigma^2$"),
    ("σ", r"$\sigma$"),
    ("–", "--"),
    ("−", "$-$"),
    ("≈", r"$\approx$"),
    ("≤", r"$\le$"),
    ("≥", r"$\ge$"),
    ("×", r"$\times$"),
    ("→", r"$\to$"),
    ("Δ", r"$\Delta$"),
    ("α", r"$\alpha$"),
    ("°", r"$^\circ$"),
    ("·", r"$\cdot$"),
    ("…", r"\ldots{}"),
    ("’", "'"),
    ("≠", r"$\neq$"),
    ("²", r"$^2$"),
    ("‖", r"$\|$"),
    ("₊", r"$_+$"),
    ("†", r"$^\dagger$"),
)
_EXPONENT = re.compile(r"\)e(-?\d+)")


def tex_escape(s: str) -> str:
    """Plain text (with the few symbols the tables use) as LaTeX."""
    s = str(s)
    for a, b in _TEXT:
        s = s.replace(a, b)
    s = _EXPONENT.sub(r")$\\times10^{\1}$", s)
    for a, b in _SYMBOLS:
        s = s.replace(a, b)
    return s.replace("$$", "")


def text_width(s: str) -> float:
    """Rough width in pt of ``s`` set in 10pt Computer Modern (for the layout choice)."""
    w = 0.0
    for ch in str(s):
        if ch.isupper():
            w += 7.0
        elif ch in " .,:;()[]|'":
            w += 3.0
        elif ch in "±×≤≥<>−":
            w += 7.8
        else:
            w += 5.0
    return w


@dataclass
class Block:
    """One experiment's part of a table: a title, its column headers and its rows (the
    first cell of a row is its label)."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)


def _col_widths(header: list[str], rows: list[list[str]]) -> float:
    cols = list(zip(header, *rows, strict=True)) if rows else [(h,) for h in header]
    return sum(max(text_width(c) for c in col) + 2 * TABCOLSEP_PT for col in cols)


def side_by_side_width(blocks: list[Block], first_header: str) -> float:
    labels = [r[0] for r in blocks[0].rows]
    header = [first_header] + [c for b in blocks for c in b.columns]
    rows = [[lab] + [c for b in blocks for c in b.rows[i][1:]] for i, lab in enumerate(labels)]
    groups = sum(text_width(b.title) for b in blocks)
    return max(_col_widths(header, rows), groups)


def layout(blocks: list[Block], first_header: str) -> str:
    """``columns`` (the paper's layout: one column group per experiment) when every block
    has the same rows and they fit the text width side by side, else ``rows``."""
    same_rows = all([r[0] for r in b.rows] == [r[0] for r in blocks[0].rows] for b in blocks)
    if same_rows and side_by_side_width(blocks, first_header) <= TEXT_WIDTH_PT:
        return "columns"
    return "rows"


def fitting_colsep(blocks, first_header, how, colsep, wrapped_labels=False) -> float:
    """``colsep``, or less (down to 1.5pt) when the estimated width of the rows would
    exceed the text width at ``colsep``."""
    if not blocks:
        return colsep
    if how == "columns":
        header = [first_header] + [c for b in blocks for c in b.columns]
        rows = [
            [r[0]] + [c for b in blocks for c in b.rows[i][1:]]
            for i, r in enumerate(blocks[0].rows)
        ]
    else:
        header = [first_header] + list(dict.fromkeys(c for b in blocks for c in b.columns))
        rows = [r for b in blocks for r in b.rows if len(r) == len(header)]
    cols = list(zip(header, *rows, strict=True)) if rows else [(h,) for h in header]
    widths = [max(text_width(c) for c in col) for col in cols]
    if wrapped_labels:
        widths = widths[1:]
    content = sum(widths)
    n = len(widths)
    if content + 2 * colsep * n <= TEXT_WIDTH_PT:
        return colsep
    return max(1.5, round((TEXT_WIDTH_PT - content) / (2 * n), 1))


def _head(caption: str, label: str, spec: str, colsep: float = TABCOLSEP_PT) -> list[str]:
    return [
        "% Generated by dmlstudy; every number computed from results/runs/*/metrics.json",
        r"\begin{table}[t]",
        r"\centering",
        rf"\setlength{{\tabcolsep}}{{{colsep:g}pt}}",
        rf"\caption{{{tex_escape(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
    ]


def _row(cells) -> str:
    return " & ".join(tex_escape(c) for c in cells) + r" \\"


def notes_block(notes: list[str]) -> list[str]:
    """The notes under a table: one compact footnotesize paragraph per note."""
    notes = [n for n in dict.fromkeys(notes) if n]
    if not notes:
        return []
    out = [r"\par\smallskip", r"\begin{minipage}{\linewidth}\footnotesize\raggedright"]
    out += [tex_escape(n) + r"\par" for n in notes]
    out.append(r"\end{minipage}")
    return out


def table(
    blocks: list[Block],
    caption: str,
    label: str,
    notes: list[str] | None = None,
    first_header: str = "Loss",
    force: str | None = None,
    label_width: str | None = None,
    colsep: float = TABCOLSEP_PT,
) -> str:
    """A booktabs table of ``blocks`` (see ``layout``; ``force`` picks one).
    ``label_width`` (e.g. ``2.4cm``) sets the first column as a paragraph column, so long
    row labels wrap; ``colsep`` is \\tabcolsep in pt."""
    blocks = [b for b in blocks if b.columns]
    how = force or (layout(blocks, first_header) if blocks else "rows")
    first = f"p{{{label_width}}}" if label_width else "l"
    colsep = fitting_colsep(blocks, first_header, how, colsep, label_width is not None)
    if how == "columns":
        lines = _by_columns(blocks, caption, label, first_header, first, colsep)
    else:
        lines = _by_rows(blocks, caption, label, first_header, first, colsep)
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    lines += notes_block(notes or [])
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _by_columns(blocks, caption, label, first_header, first="l", colsep=TABCOLSEP_PT) -> list[str]:
    ncols = sum(len(b.columns) for b in blocks)
    lines = _head(caption, label, first + "c" * ncols, colsep)
    if len(blocks) > 1 or blocks[0].title:
        head = [""] + [
            rf"\multicolumn{{{len(b.columns)}}}{{c}}{{{tex_escape(b.title)}}}" for b in blocks
        ]
        lines.append(" & ".join(head) + r" \\")
        start, rules = 2, []
        for b in blocks:
            rules.append(rf"\cmidrule(lr){{{start}-{start + len(b.columns) - 1}}}")
            start += len(b.columns)
        lines.append(" ".join(rules))
    lines.append(_row([first_header] + [c for b in blocks for c in b.columns]))
    lines.append(r"\midrule")
    for i, r in enumerate(blocks[0].rows if blocks else []):
        lines.append(_row([r[0]] + [c for b in blocks for c in b.rows[i][1:]]))
    return lines


def _by_rows(blocks, caption, label, first_header, first="l", colsep=TABCOLSEP_PT) -> list[str]:
    columns = list(dict.fromkeys(c for b in blocks for c in b.columns))
    lines = _head(caption, label, first + "c" * len(columns), colsep)
    lines.append(_row([first_header] + columns))
    for i, b in enumerate(blocks):
        lines.append(r"\midrule" if i == 0 else r"\addlinespace")
        if b.title:
            lines.append(
                rf"\multicolumn{{{1 + len(columns)}}}{{l}}{{\emph{{{tex_escape(b.title)}}}}} \\"
            )
        where = {c: j for j, c in enumerate(b.columns)}
        for r in b.rows:
            cells = [r[1 + where[c]] if c in where else "--" for c in columns]
            lines.append(_row([r[0]] + cells))
    if not blocks:
        lines.append(r"\midrule")
    return lines


def write(df, tex: str, csv_path, tex_path) -> None:
    """The CSV and the LaTeX of one table."""
    Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(csv_path, index=False)
    Path(tex_path).write_text(tex)


def document(tables: list[str]) -> str:
    """A plain article holding ``tables`` (what the compile test and a reader use)."""
    body = "\n\\clearpage\n".join(tables)
    return (
        "\\documentclass{article}\n\\usepackage{booktabs}\n"
        f"\\begin{{document}}\n{body}\n\\end{{document}}\n"
    )
