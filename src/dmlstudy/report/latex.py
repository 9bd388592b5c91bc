"""Numbers as a reader sees them, and their LaTeX.

A column of mean ± std cells is printed with one precision (``column_format``): the
smallest std of the column rounded to one or two significant digits by the Particle Data
Group's rule (two when its leading three digits are 100-354 or 950-999, one otherwise), every
cell to that decimal place, and a column of small numbers in units of a power of ten named in
its header. Negative numbers carry a real minus sign (``−``). The table layout and its LaTeX
and HTML renderers are ``report.doc``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path

#: \textwidth of a plain 10pt article, in pt.
TEXT_WIDTH_PT = 345.0
#: Below 10**-SCIENTIFIC_BELOW the decimals get long: print (m ± s)e-k instead.
SCIENTIFIC_DECIMALS = 5


MINUS = "\u2212"
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def isnan(x) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def minus(text: str) -> str:
    """A formatted number with a real minus sign."""
    return text.replace("-", MINUS)


def power_of_ten(e: int) -> str:
    """``10⁻³``: the unit of a scaled column."""
    return "10" + str(e).translate(_SUPERSCRIPT)


def fmt(x: float) -> str:
    """One number alone: 4 decimals, or scientific notation for small magnitudes."""
    if isnan(x):
        return "n/a"
    if x != 0 and abs(x) < 1e-2:
        mant, e = f"{x:.1e}".split("e")
        return minus(f"{mant}×{power_of_ten(int(e))}")
    return minus(f"{x:.4f}")


def fmt_p(p: float) -> str:
    """A p-value: three decimals, ``<0.001`` below that."""
    if isnan(p):
        return "n/a"
    return "<0.001" if p < 1e-3 else f"{p:.3f}"


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
    return minus(f"{x:.{max(decimals, 0)}f}")


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
        return minus(f"({mean / 10**k:.{d}f} ± {std / 10**k:.{d}f})×{power_of_ten(k)}")
    return f"{_fixed(mean, decimals)} ± {_fixed(std, decimals)}"


def interval(low: float, high: float, like: float | None = None) -> str:
    """``[low, high]`` at the precision of the interval's half-width."""
    if isnan(low) or isnan(high):
        return "n/a"
    half = (high - low) / 2
    if half <= 0:
        return minus(f"[{low:.4g}, {high:.4g}]")
    d = std_decimals(half)
    if d > SCIENTIFIC_DECIMALS:
        return minus(f"[{low:.2e}, {high:.2e}]")
    return f"[{_fixed(low, d)}, {_fixed(high, d)}]"


def signed(x: float, like_low: float, like_high: float) -> str:
    """An estimate at the precision of its interval (4 significant digits without one)."""
    if isnan(x):
        return "n/a"
    if isnan(like_low) or isnan(like_high) or like_high <= like_low:
        return minus(f"{x:+.4g}")
    d = std_decimals((like_high - like_low) / 2)
    if d > SCIENTIFIC_DECIMALS:
        return minus(f"{x:+.2e}")
    return ("+" if x >= 0 else "") + _fixed(x, d)


def effect_text(g: float, cap: float = 10.0) -> str:
    """An effect size with two significant digits; beyond ``cap`` in magnitude only its sign
    and the bound (``> 10``): seeds that barely vary make it arbitrarily large."""
    if isnan(g):
        return "n/a"
    if abs(g) > cap:
        return f"> {cap:g}" if g > 0 else f"< {MINUS}{cap:g}"
    return minus(f"{g:.2g}")


def column_format(means: Sequence[float], stds: Sequence[float]) -> tuple[Callable, int]:
    """``(format, exponent)`` for one column of ``mean ± std`` cells: ``format(mean, std)``
    prints every cell at the decimal place of the column's smallest std (PDG rule; with no
    std, three significant digits of its smallest mean), in units of ``10**exponent``
    (exponent 0 unless the column's largest |mean| is below 0.01 or at least 1e5)."""
    ms = [abs(float(m)) for m in means if not isnan(m) and float(m) != 0]
    exponent = 0
    if ms and (max(ms) < 1e-2 or max(ms) >= 1e5):
        exponent = math.floor(math.log10(max(ms)))
    scale = 10.0**exponent
    ss = [float(s) / scale for s in stds if not isnan(s) and float(s) > 0]
    if ss:
        decimals = std_decimals(min(ss))
    elif ms:
        decimals = 2 - math.floor(math.log10(min(ms) / scale))
    else:
        decimals = 3
    decimals = min(max(decimals, 0), 4)

    def fmt_cell(mean: float, std: float = math.nan) -> str:
        if isnan(mean):
            return "n/a"
        m = _fixed(float(mean) / scale, decimals)
        if isnan(std):
            return m
        return f"{m} ± {_fixed(float(std) / scale, decimals)}"

    return fmt_cell, exponent


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
    ("⁺", r"$^+$"),
    ("ᵏ", r"$^k$"),
    ("ˢ", r"\textsuperscript{s}"),
    ("ᶜ", r"\textsuperscript{c}"),
    ("†", r"\textsuperscript{\dag}"),
    ("‡", r"\textsuperscript{\ddag}"),
)
_POWER = re.compile(r"10([⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
_PLAIN = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def tex_escape(s: str) -> str:
    """Plain text (with the few symbols the tables use) as LaTeX."""
    s = str(s)
    for a, b in _TEXT:
        s = s.replace(a, b)
    s = _POWER.sub(lambda m: f"$10^{{{m.group(1).translate(_PLAIN)}}}$", s)
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


def write(df, tex: str, csv_path, tex_path) -> None:
    """The CSV and the LaTeX of one table."""
    Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(csv_path, index=False)
    Path(tex_path).write_text(tex)
