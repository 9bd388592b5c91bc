"""The training benchmark's Markdown report."""

from __future__ import annotations


def fmt_s(x) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# bench_training",
        "",
        f"{m['date']}, {m['cpu_model']}, {m['nproc']} CPUs, torch {m['torch']}, "
        f"{res['threads']} thread(s); load {m['loadavg_start']} at start, "
        f"{res['loadavg_end']} at the end.",
        "",
        "CPU seconds per full epoch (medians over interleaved rounds). loop = the real "
        "`dmlstudy.train.train`; pure = forward + loss + backward + Adam on batches gathered "
        "beforehand; authors = their loop (per-anchor Python sampling, one single-sample "
        "forward per partner, NCHW CNN, torch's default Adam).",
        "",
        "| workload | loss | rounds | loop | loop (wall) | pure | loop / pure | authors | authors / loop |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in res["datapath"]:
        e = d["epoch_cpu_s"]
        ratio = d.get("authors_over_loop")
        lines.append(
            f"| {d['workload']} | {d['loss']} | {d['rounds']} | {fmt_s(e['loop'])} | "
            f"{fmt_s(e['loop_wall'])} | {fmt_s(e['pure'])} | {d['loop_over_pure']:.3f} | "
            f"{fmt_s(e['authors'])} | {'-' if ratio is None else f'**{ratio:.1f}x**'} |"
        )
    lines += ["", "Workloads:", ""]
    for name, desc in dict((d["workload"], d["description"]) for d in res["datapath"]).items():
        lines.append(f"* {name}: {desc}")
    return "\n".join(lines) + "\n"
