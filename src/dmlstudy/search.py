"""A seeded adaptive search (Optuna's TPE) in rounds, every trial a cached run: the reality check.

The metric learning reality check (Musgrave et al. 2020) tunes every loss by Bayesian
optimisation with the same budget. Here a study (one experiment, one loss) runs in
*rounds* of ``trials_per_round`` trials that can train in parallel; each trial is a set of
values for the dotted keys of a :class:`SearchSpace`, trained under the path segment of
those values (``loss.margin~0.731/training.lr~0.00123/``, the grid points' convention of
:mod:`dmlstudy.sweeps`), so a trial is a cached job like a grid point.

**Determinism.** :func:`suggest_round` builds a fresh in-memory Optuna study, replays the
finished trials of every earlier round in trial-number order (``study.add_trial``), and
``ask()``-s the new round. Its sampler is ``TPESampler(seed=trial_seed(seed, round))``:

* the seed is derived from the study seed *and the round index* (SHA-256, 32 bits), because
  a fresh study per round with one fixed seed would draw the same random start-up values
  in every random round;
* nothing else enters: the same space, earlier results and seed give the same values, bit
  for bit, in any process; later rounds never change earlier ones (adding rounds runs only
  the new trials); changing ``trials_per_round`` or the space is a new study.
* The first ``n_startup_trials`` (default 10, Optuna's) evaluated trials are drawn at
  random (seeded): rounds ``r`` with ``r * trials_per_round < n_startup_trials`` are random.
  Losses with the same space and seed get the same start-up draws (a paired design).

**Parallel trials of a round**: ``constant_liar=True`` (Optuna 5's default): while a round is
asked, its earlier, unfinished trials count as bad results, so the round spreads out instead
of piling onto one mode. ``multivariate=True``: one joint density over the keys (margin and
learning rate interact).

**Failed trials**: a trial with a missing or NaN score in any fold or seed is *failed*; it is
replayed as ``PRUNED`` without intermediate values, which TPE ranks below every complete
trial (so the region counts as bad) and counts toward the start-up trials. (``FAIL`` would be
ignored, and the sampler would keep proposing, say, a learning rate that diverges.) A failed
trial is never the best.

**Rounding**: a float is rounded to ``digits`` significant digits (default 3) and clipped to
its bounds; its path text is ``repr`` of the rounded float, which parses back to the same
float, so the values a run trains with are exactly those in its path. Integers and choices
are exact. Two trials that round to the same segment are **the same point**: the later one
reuses the earlier one's runs and scores (Snakemake plans one job), still counts toward the
budget, and the history marks it ``duplicate_of``; raise ``digits`` if that happens often.

**Scores**: a trial's validation score is the mean over folds x tuning seeds; its spread is
the standard deviation (ddof 1) of its per-fold means (NaN with one fold).
:func:`best_trial`: highest mean; means within 1e-12 go to the smaller spread over folds,
then to the earlier trial.

Importing this module imports neither optuna (imported inside the functions that ask it),
torch nor pandas.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import CorruptFileError
from .io import atomic_write
from .search_space import DIGITS, Param, SearchSpace, parse_space

__all__ = [
    "BUDGET_KEYS",
    "DIGITS",
    "N_STARTUP_TRIALS",
    "Budget",
    "Param",
    "SearchSpace",
    "TrialResult",
    "best_trial",
    "budget_problems",
    "earlier_trials",
    "history_rows",
    "parse_space",
    "read_history",
    "suggest_round",
    "trial_seed",
    "write_history",
]

#: Optuna's default: trials drawn at random before TPE models the results.
N_STARTUP_TRIALS = 10
#: Means closer than this are a tie in :func:`best_trial` (as in ``sweeps.select``).
TIE_TOLERANCE = 1e-12
#: The config keys the equal-budget messages name.
BUDGET_KEYS = {
    "rounds": "sweeps.rounds",
    "trials_per_round": "sweeps.trials_per_round",
    "epochs": "training.epochs",
    "folds": "sweeps.folds",
    "tuning_seeds": "sweeps.tuning_seeds",
}


# --------------------------------------------------------------------------- trials
@dataclass(frozen=True)
class TrialResult:
    """A finished trial: ``number`` (0-based in the study, ``round * trials_per_round`` +
    its place in the round), ``round``, its (rounded) ``values`` and ``scores[fold][seed]``:
    the validation score of each tuning run (NaN or None where a run has none)."""

    number: int
    round: int
    values: dict
    scores: tuple[tuple[float, ...], ...] = field(default=())

    def __post_init__(self):
        rows = tuple(
            tuple(math.nan if v is None else float(v) for v in fold) for fold in self.scores
        )
        if not rows or not all(rows):
            raise ValueError(f"trial {self.number}: scores must be [fold][seed], none empty")
        object.__setattr__(self, "scores", rows)

    @property
    def failed(self) -> bool:
        """True when any fold or seed has no finite score: the trial cannot be ranked."""
        return not all(math.isfinite(v) for fold in self.scores for v in fold)

    @property
    def fold_means(self) -> list[float]:
        return [math.fsum(fold) / len(fold) for fold in self.scores]

    @property
    def mean(self) -> float:
        """The validation score: the mean over folds x seeds (NaN if failed)."""
        if self.failed:
            return math.nan
        flat = [v for fold in self.scores for v in fold]
        return math.fsum(flat) / len(flat)

    @property
    def fold_std(self) -> float:
        """Standard deviation (ddof 1) of the per-fold means: NaN with one fold or failed."""
        if self.failed or len(self.scores) < 2:
            return math.nan
        means = self.fold_means
        m = math.fsum(means) / len(means)
        return math.sqrt(math.fsum((x - m) ** 2 for x in means) / (len(means) - 1))


def trial_seed(seed: int, round_index: int) -> int:
    """The TPE sampler seed of one round: 32 bits of SHA-256 of the study seed and the round
    index (stable across Python, numpy and platform versions)."""
    digest = hashlib.sha256(f"dmlstudy.search:{int(seed)}:{int(round_index)}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def earlier_trials(
    history: Sequence[TrialResult], round_index: int, trials_per_round: int
) -> list[TrialResult]:
    """The trials of rounds ``0 .. round_index - 1`` in number order; ``ValueError`` unless
    they are exactly ``round_index * trials_per_round`` trials numbered 0, 1, ... (every
    earlier round complete). Later rounds in ``history`` are ignored."""
    earlier = sorted((t for t in history if t.round < round_index), key=lambda t: t.number)
    numbers = [t.number for t in earlier]
    if numbers != list(range(round_index * trials_per_round)):
        raise ValueError(
            f"round {round_index} needs the {round_index * trials_per_round} trials of rounds "
            f"0-{round_index - 1} ({trials_per_round} a round), numbered from 0; got numbers "
            f"{numbers}"
        )
    for t in earlier:
        if t.round != t.number // trials_per_round:
            raise ValueError(
                f"trial {t.number} says round {t.round}, but with {trials_per_round} trials a "
                f"round it is in round {t.number // trials_per_round}"
            )
    return earlier


def suggest_round(
    space: SearchSpace,
    history: Sequence[TrialResult],
    round_index: int,
    trials_per_round: int,
    seed: int,
    n_startup_trials: int = N_STARTUP_TRIALS,
) -> list[dict]:
    """The values of the ``trials_per_round`` trials of round ``round_index`` (trial numbers
    ``round_index * trials_per_round + i``), each a dict in the space's key order, already
    rounded (:meth:`Param.round`): exactly what the runs train with.

    Depends only on ``space``, the trials of the earlier rounds in ``history`` (their values
    and scores; see :func:`earlier_trials`), ``trials_per_round``, ``seed`` and
    ``n_startup_trials``: a fresh ``TPESampler(seed=trial_seed(seed, round_index),
    n_startup_trials=..., multivariate=True, constant_liar=True)`` study, the earlier trials
    replayed in number order (failed ones as ``PRUNED``), then ``trials_per_round`` asks."""
    import optuna
    from optuna.trial import TrialState, create_trial

    _check_int("round_index", round_index, 0)
    _check_int("trials_per_round", trials_per_round, 1)
    _check_int("seed", seed, 0)
    _check_int("n_startup_trials", n_startup_trials, 0)
    dists = {p.key: p.distribution() for p in space.params}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "trial N finished" per replay
    try:
        sampler = optuna.samplers.TPESampler(
            seed=trial_seed(seed, round_index),
            n_startup_trials=n_startup_trials,
            multivariate=True,
            constant_liar=True,
        )
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for t in earlier_trials(history, round_index, trials_per_round):
            state = {"state": TrialState.PRUNED} if t.failed else {"value": t.mean}
            try:
                params = {k: t.values[k] for k in space.keys}
                frozen = create_trial(params=params, distributions=dists, **state)
            except (KeyError, ValueError) as exc:
                raise ValueError(
                    f"trial {t.number} ({t.values}) is not a point of the search space "
                    f"({space.describe()}): {exc}; a changed space is a new study"
                ) from exc
            study.add_trial(frozen)
        asked = [study.ask(dists) for _ in range(trials_per_round)]
    finally:
        optuna.logging.set_verbosity(verbosity)
    return [{p.key: p.round(trial.params[p.key]) for p in space.params} for trial in asked]


def best_trial(trials: Sequence[TrialResult]) -> TrialResult:
    """The trial with the highest mean validation score; means within 1e-12 of the best go
    to the smaller spread over folds (NaN, one fold: no spread, all equal), then to the lower
    trial number. Failed trials are skipped; ``ValueError`` if every trial failed."""
    ok = [t for t in trials if not t.failed]
    if not ok:
        raise ValueError("no trial has a validation score: every trial failed")
    top = max(t.mean for t in ok)
    tied = [t for t in ok if t.mean >= top - TIE_TOLERANCE]
    return min(tied, key=lambda t: (0.0 if math.isnan(t.fold_std) else t.fold_std, t.number))


# --------------------------------------------------------------------------- equal budget
@dataclass(frozen=True)
class Budget:
    """What one loss's study spends: ``rounds`` x ``trials_per_round`` trials (0 rounds: no
    search space), each trained for ``epochs`` (an int, or the :class:`Param` when
    ``training.epochs`` is searched) on ``folds`` folds x ``tuning_seeds``."""

    rounds: int
    trials_per_round: int
    epochs: object
    folds: int
    tuning_seeds: tuple

    @property
    def trials(self) -> int:
        return self.rounds * self.trials_per_round


def budget_problems(where: str, budgets: Mapping[str, Budget]) -> list[str]:
    """The equal-budget check of one experiment (``where``, e.g. ``sweeps.space.synthetic_mlp``):
    every loss (``budgets``: loss -> :class:`Budget`) has a search space and the same rounds,
    trials per round, epochs, folds and tuning seeds. One line per difference, naming the
    config key (:data:`BUDGET_KEYS`) and each loss's value."""
    out = []
    missing = [loss for loss, b in budgets.items() if b.trials == 0]
    if missing:
        out.append(
            f"'{where}': the search gives every loss the same budget, but "
            + ", ".join(missing)
            + " has no search space (0 trials); give every loss in 'losses' a search space"
        )
    for name in ("rounds", "trials_per_round", "epochs", "folds", "tuning_seeds"):
        got = {loss: getattr(b, name) for loss, b in budgets.items() if b.trials}
        if len({repr(v) for v in got.values()}) > 1:
            shown = ", ".join(
                f"{loss}: {v.describe() if isinstance(v, Param) else repr(v)}"
                for loss, v in got.items()
            )
            out.append(
                f"'{where}': the search gives every loss the same {name.replace('_', ' ')}, but "
                f"{shown}; set {BUDGET_KEYS[name]} the same for every loss of the experiment"
            )
    return out


# --------------------------------------------------------------------------- history file
def history_rows(space: SearchSpace, trials: Sequence[TrialResult]) -> list[dict]:
    """One row per trial in number order: ``trial``, ``round``, ``segment``, each key's
    value (path text), ``fold_0`` .. (mean over seeds per fold), ``mean``, ``fold_std``,
    ``n_scores``, ``failed``, ``duplicate_of`` (the earlier trial with the same segment, or
    ""), ``best_so_far`` (the best mean among trials up to this one; NaN before the first
    success), ``best_trial`` (that trial's number by :func:`best_trial`, or "") and
    ``scores`` (the exact ``[fold][seed]`` scores, JSON, NaN as null)."""
    rows, first, done = [], {}, []
    n_folds = max((len(t.scores) for t in trials), default=0)
    for t in sorted(trials, key=lambda t: t.number):
        seg = space.segment(t.values)
        done.append(t)
        ok = [d for d in done if not d.failed]
        best = best_trial(ok) if ok else None
        means = t.fold_means
        row = {"trial": t.number, "round": t.round, "segment": seg}
        row |= {p.key: p.text(t.values[p.key]) for p in space.params}
        row |= {f"fold_{i}": (means[i] if i < len(means) else "") for i in range(n_folds)}
        row |= {
            "mean": t.mean,
            "fold_std": t.fold_std,
            "n_scores": sum(len(f) for f in t.scores),
            "failed": t.failed,
            "duplicate_of": first.get(seg, ""),
            "best_so_far": best.mean if best else math.nan,
            "best_trial": best.number if best else "",
            "scores": json.dumps([[v if math.isfinite(v) else None for v in f] for f in t.scores]),
        }
        first.setdefault(seg, t.number)
        rows.append(row)
    return rows


def write_history(path, space: SearchSpace, trials: Sequence[TrialResult]) -> None:
    """The study's trial history as CSV (:func:`history_rows`), atomically. Floats are
    written by ``repr`` and read back exactly by :func:`read_history`."""
    rows = history_rows(space, trials)
    fields = list(rows[0]) if rows else ["trial", "round", "segment", *space.keys, "scores"]

    def write(tmp):
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)

    atomic_write(path, write)


def read_history(path, space: SearchSpace) -> list[TrialResult]:
    """The trials of a history file written by :func:`write_history` for ``space``: values
    parsed from each ``segment``, scores from ``scores``. ``CorruptFileError`` naming the
    file and line when a row does not parse or the file was written for other keys."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        # The searched keys are the dotted columns (no other column has a dot).
        keys = [k for k in reader.fieldnames or [] if "." in k]
        if keys != space.keys:
            raise CorruptFileError(
                f"{path}: a history of the keys {keys}, not of this search space's "
                f"{space.keys}; a changed space is a new study"
            )
        out = []
        for line, row in enumerate(reader, start=2):
            try:
                scores = json.loads(row["scores"])
                values = space.parse_segment(row["segment"])
                out.append(TrialResult(int(row["trial"]), int(row["round"]), values, scores))
            except (ValueError, TypeError, KeyError) as exc:
                raise CorruptFileError(f"{path}, line {line}: {exc}") from exc
    return out
