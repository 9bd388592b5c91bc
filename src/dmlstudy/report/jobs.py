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


def comparisons(inputs, outputs, params) -> None:
    """Every comparison of the runs, tested once (comparisons.csv), and the claims among
    them (claims.csv, .tex, .html, and the summary on the report's landing page)."""
    from . import claims, doc, load
    from . import comparison as cmp
    from .comparisons import compare_runs

    df = load.load_metrics(inputs.metrics, params.runs, params.experiments)
    rows = compare_runs(df, params.experiments, params.loss_labels, params.statistics)
    rows.to_csv(outputs.comparisons, index=False)
    setup = {
        e: "; ".join(cmp.setup_differences(info, params.paper_settings))
        for e, info in params.experiments.items()
    }
    frame = claims.claims_frame(rows, setup)
    frame.to_csv(outputs.claims_csv, index=False)
    doc.write(
        claims.claims_docs(frame, params.experiments), outputs.claims_tex, outputs.claims_html
    )
    Path(outputs.summary).write_text(claims.summary_html(frame))


def table(inputs, outputs, params, name: str) -> None:
    """One table of the catalogue (``dmlstudy.catalog.TABLES[name]``): CSV, LaTeX, HTML."""
    import importlib

    from .. import catalog
    from . import doc, load
    from .comparisons import read
    from .tables import Context

    df = load.load_metrics(inputs.metrics, params.runs, params.experiments)
    module, _, function = catalog.TABLES[name].make.partition(":")
    make = getattr(importlib.import_module(module), function)
    frame, document = make(df, Context(params.loss_labels, read(inputs.comparisons)))
    Path(outputs.csv).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(outputs.csv, index=False)
    doc.write([document], outputs.tex, outputs.html, catalog.TABLES[name].title)


def comparison(inputs, outputs, params) -> None:
    """Every number the paper reports beside ours, and the claims (paper_comparison)."""
    import pandas as pd

    from . import comparison as cmp
    from . import doc, load
    from .comparisons import read

    df = load.load_metrics(inputs.metrics, params.runs, params.experiments)
    ref = cmp.load_reference(inputs.reference)
    frame, docs = cmp.paper_comparison(
        df,
        params.experiments,
        params.loss_labels,
        params.paper_settings,
        pd.read_csv(inputs.claims),
        ref,
        read(inputs.comparisons),
    )
    frame.to_csv(outputs.csv, index=False)
    doc.write(docs, outputs.tex, outputs.html, "The paper beside ours")


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
    from . import pca as f

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
    """runtime.csv (one row per job) and runtime_totals.csv (one per rule) from every
    job's benchmark TSV."""
    from .runtime import runtime_table

    jobs, totals = runtime_table(params.jobs)
    Path(outputs.csv).parent.mkdir(parents=True, exist_ok=True)
    jobs.to_csv(outputs.csv, index=False)
    totals.to_csv(outputs.totals, index=False)


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
    from . import doc, load, tuning

    selections = _selections(inputs.selected)
    tuning.selected_points(selections, params.loss_labels).to_csv(outputs.selected_csv, index=False)
    fixed = tuning.with_points(load.load_metrics(inputs.fixed, params.fixed_runs))
    tuned = tuning.with_points(load.load_metrics(inputs.tuned, params.tuned_runs))
    frame, document, gains = tuning.tuned_comparison(
        fixed, tuned, selections, params.experiments, params.loss_labels, params.statistics
    )
    frame.to_csv(outputs.csv, index=False)
    doc.write([document], outputs.tex, outputs.html, "Tuned comparison")
    gains.to_csv(outputs.gains_csv, index=False)


def reality_check(inputs, outputs, params) -> None:
    """The reality check's table (``report.reality``): each study's best trial, its
    reproductions on test with CIs, and the corrected verdicts of triplet against
    contrastive."""
    from .. import evaluate
    from . import doc, load, reality

    runs = load.load_metrics(inputs.metrics, params.runs, params.experiments)
    baselines = {  # params.evaluation names the experiments in the order of inputs.inputs
        exp: evaluate.input_metrics(path, ev)
        for (exp, ev), path in zip(params.evaluation.items(), inputs.inputs, strict=True)
    }
    frame, docs = reality.reality_check(
        _selections(inputs.best),
        runs,
        params.experiments,
        params.loss_labels,
        params.statistics,
        baselines,
    )
    frame.to_csv(outputs.csv, index=False)
    doc.write(docs, outputs.tex, outputs.html, "Reality check")


def search_figure(inputs, outputs, params) -> None:
    """fig_search: the best-so-far validation score of every study against the trial."""
    from . import searches

    best = _selections(inputs.best)
    trials = searches.load_studies(inputs.history, best)
    labels = {name: e["label"] for name, e in params.experiments.items()}
    searches.fig_search(
        trials, labels, params.loss_labels, _stem(outputs.pdf), params.n_startup, params.dpi
    )
