"""The runs whose health check failed (``dmlstudy.health``), for the tables: a mark beside
the loss and a note that lists each flagged run and what went wrong. A flagged run stays
in the tables (nothing computed is dropped); the mark says its numbers are suspect."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

#: The mark beside a loss whose runs include a flagged one (the claims use † for a test
#: that cannot reach significance).
MARK = "‡"


def flagged(df: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    """``{(experiment, loss): ["seed 0: <problem>", ...]}`` for the runs in ``df`` whose
    ``health`` (metrics.json) is not ok. Runs from before the check (no ``health``) are
    not flagged."""
    out: dict[tuple[str, str], list[str]] = {}
    if "health" not in df:
        return out
    for _, row in df.iterrows():
        h = row["health"]
        if not isinstance(h, Mapping) or h.get("status", "ok") == "ok":
            continue
        for problem in h.get("problems", []):
            key = (row["experiment"], row["loss"])
            out.setdefault(key, []).append(f"seed {row['seed']}: {problem['check']}")
    return out


def label(flags: Mapping, exp: str, loss: str, text: str) -> str:
    """``text`` (a loss's label) with the mark when a run of (``exp``, ``loss``) is flagged."""
    return f"{text}{MARK}" if (exp, loss) in flags else text


def cell(flags: Mapping, exp: str, loss: str) -> str:
    """The CSV cell of (``exp``, ``loss``): its runs' failed checks, empty when none."""
    return "; ".join(flags.get((exp, loss), []))


def note(
    flags: Mapping, loss_labels: Mapping[str, str], exp_labels: Mapping[str, str]
) -> list[str]:
    """The table note naming every flagged run and its failed checks (none when all passed)."""
    if not flags:
        return []
    runs = "; ".join(
        f"{exp_labels.get(exp, exp)}, {loss_labels.get(loss, loss)}: {', '.join(problems)}"
        for (exp, loss), problems in flags.items()
    )
    return [
        f"{MARK} The health check failed for some runs (divergence or collapse; "
        f"metrics.json 'health' and the job's log say why); their numbers are included but "
        f"suspect: {runs}."
    ]
