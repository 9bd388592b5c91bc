"""One function per aggregation job: what each Snakemake script of the aggregation rules runs
through ``scripting.run_stage`` (so a user error is one line on the console and the log, and
exit 1). Each takes the job's ``inputs``, ``outputs`` and ``params`` (Snakemake's objects, or
any objects with the same attributes in tests) and writes the outputs.

Each job imports only what it needs, when it runs: a job that writes tables never imports
matplotlib.
"""

from __future__ import annotations

import json
from pathlib import Path


def _stem(path) -> Path:
    return Path(str(path)).with_suffix("")


def _selections(paths) -> list[dict]:
    out = []
    for path in paths:
        with open(path) as fh:
            out.append(json.load(fh))
    return out


def tables(inputs, outputs, params) -> None:
    """Tables 1-5 from every run's metrics.json."""
    from . import latex, load
    from . import tables as t

    df = load.load_metrics(inputs.metrics, params.runs, params.experiments)
    for n, make in enumerate((t.table1, t.table2, t.table3, t.table4, t.table5), 1):
        latex.write(
            *make(df, params.loss_labels), outputs[f"table{n}_csv"], outputs[f"table{n}_tex"]
        )


def comparison(inputs, outputs, params) -> None:
    """The paper's claims checked (claims.csv/tex) and every number the paper reports beside
    ours (paper_comparison.csv/tex)."""
    from . import claims, latex, load
    from . import comparison as cmp

    df = load.load_metrics(inputs.metrics, params.runs, params.experiments)
    checked = claims.evaluate_claims(
        df, params.experiments, params.paper_settings, params.statistics
    )
    latex.write(
        *claims.claims_table(checked, params.experiments), outputs.claims_csv, outputs.claims_tex
    )
    ref = cmp.load_reference(inputs.reference)
    result = cmp.paper_comparison(
        df, params.experiments, params.loss_labels, params.paper_settings, checked, ref
    )
    latex.write(*result, outputs.csv, outputs.tex)


def figures(inputs, outputs, params) -> None:
    """Figures 1 and 3 and the singular-value spectra."""
    from . import figures as f
    from . import load

    metrics = load.load_metrics(inputs.metrics, params.runs, params.experiments)
    histories = load.load_histories(inputs.histories, params.runs)
    labels = {name: e["label"] for name, e in params.experiments.items()}
    f.fig1_intra_class_variance(metrics, params.loss_labels, _stem(outputs.fig1_png), params.dpi)
    f.fig3_greediness(histories, labels, params.loss_labels, _stem(outputs.fig3_png), params.dpi)
    f.fig_spectrum(metrics, labels, params.loss_labels, _stem(outputs.spectrum_png), params.dpi)


def pca_figure(inputs, outputs, params) -> None:
    """Figure 2: PCA of each experiment's input data and of each loss's embeddings of the
    evaluation split (first seed)."""
    from . import figures as f

    panels = {
        name: f.load_pca_panel(
            spec["input"],
            spec["embeddings"],
            params.samples,
            params.seed,
            split=spec.get("split", "test"),
        )
        for name, spec in params.panels.items()
    }
    f.fig2_pca(
        panels, params.labels, params.loss_labels, _stem(outputs.png), params.dpi, params.seed
    )


def runtime(inputs, outputs, params) -> None:
    """runtime.csv from every job's benchmark TSV."""
    from .runtime import runtime_table

    df = runtime_table(params.jobs)
    Path(outputs.csv).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(outputs.csv, index=False)


def select_points(inputs, outputs, params, experiment: str) -> None:
    """Each loss's best grid point of one experiment on validation (selected.json)."""
    from . import load, tuning

    df = tuning.with_points(load.load_metrics(inputs.metrics, params.runs))
    selection = tuning.select_points(df, experiment, params.grids, params.metric)
    tuning.write_selection(selection, outputs.selected)


def sweep_summary(inputs, outputs, params) -> None:
    """sweep_points.csv and fig_sensitivity of every grid point."""
    from . import figures as f
    from . import load, tuning

    df = tuning.with_points(load.load_metrics(inputs.metrics, params.runs))
    table = tuning.sweep_points(df, params.metric, params.experiments)
    table.to_csv(outputs.csv, index=False)
    f.fig_sensitivity(
        table,
        params.experiments,
        params.loss_labels,
        _stem(outputs.pdf),
        _selections(inputs.selected),
        dpi=params.dpi,
    )


def tuned_comparison(inputs, outputs, params) -> None:
    """Fixed vs tuned settings with verdicts, the selected points and the gains."""
    from . import latex, load, tuning

    selections = _selections(inputs.selected)
    tuning.selected_points(selections, params.loss_labels).to_csv(outputs.selected_csv, index=False)
    fixed = tuning.with_points(load.load_metrics(inputs.fixed, params.fixed_runs))
    tuned = tuning.with_points(load.load_metrics(inputs.tuned, params.tuned_runs))
    table, tex, gains = tuning.tuned_comparison(
        fixed, tuned, selections, params.experiments, params.loss_labels, params.statistics
    )
    latex.write(table, tex, outputs.csv, outputs.tex)
    gains.to_csv(outputs.gains_csv, index=False)
