"""Reporting: the paper's tables, figures, the comparison with the paper and its claims.

One module per job: ``stats`` (tests, effect sizes, corrections, power), ``latex``
(booktabs writing and number formatting), ``load`` (metrics and histories of the runs the
rule names), ``tables`` (Tables 1-4), ``figures`` (Figs. 1-3), ``comparison`` (the paper's
numbers beside ours), ``claims`` (the paper's claims and their verdicts) and ``runtime``.
Nothing here imports torch.
"""
