"""The runtime table from benchmark TSVs."""

import pytest

from dmlstudy.report import runtime


def test_runtime_table(tmp_path):
    head = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    jobs = {}
    for i, (rule, secs, rss) in enumerate(
        [("train_model", 10.5, 900.0), ("train_model", 20.0, 1100.0), ("prepare_data", 3.0, 500.0)]
    ):
        p = tmp_path / f"b{i}.tsv"
        p.write_text(head + f"{secs}\t0:00:{int(secs):02d}\t{rss}\t1\t1\t1\t0\t0\t1\t{secs / 2}\n")
        jobs[str(p)] = {"rule": rule, "job": f"seed={i}"}
    df, totals = runtime.runtime_table(jobs)
    assert len(df) == 3 and df["s"].sum() == pytest.approx(33.5)  # jobs only: a sum is a sum
    total = totals[totals["rule"] == "train_model"].iloc[0]
    assert total["s"] == pytest.approx(30.5)
    assert total["max_rss"] == pytest.approx(1100.0)
    assert total["n_jobs"] == 2
    assert total["h:m:s"] == "0:00:30"
    assert totals["s"].sum() == pytest.approx(df["s"].sum())
    assert all(frame.empty for frame in runtime.runtime_table({}))
