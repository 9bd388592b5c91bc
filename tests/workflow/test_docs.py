"""The documentation, tested like code.

- Every ``snakemake ...`` command of README.md, config/README.md and docs/plugins.md (in
  fenced code blocks and in inline code spans; backslash-continued lines joined) runs as a
  dry run, as a user would type it, in a scratch folder that holds what a clone holds
  (``config/``, ``profiles/``, ``examples/``; plus the files the docs tell the user to write
  first: ``quick.yaml``, ``config/tiny.yaml``) and must exit 0. ``--lint`` and ``--unlock``
  run as they are (neither runs a job). A command that cannot run here is listed in
  ``EXCLUDED`` with the reason; a command naming a config whose data is not here must print
  the documented message (the folder searched and how to get the files).
- Every path of README's "What lands where" is planned by a dry run of the configs its
  "produced by" column names.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import (
    CONFIG_DIR,
    PROFILE,
    REPO,
    SNAKEFILE,
    SNAKEMAKE,
    TINY_CONFIG,
    output_of,
    require_success,
    snakemake_env,
    write_config,
)

pytestmark = pytest.mark.slow

DOCS = [REPO / "README.md", REPO / "config" / "README.md", REPO / "docs" / "plugins.md"]

#: Commands the docs give that are not checked here, and why.
EXCLUDED = {
    "snakemake --report results/report.html": (
        "needs a finished run; .ci/run builds the report after the tiny config's run"
    ),
    "snakemake --sdm conda": (
        "a flag named in a sentence; conda environments need the network (docs/slurm.md)"
    ),
}

#: Configs whose data is not shipped: the folders (under the scratch folder) that a dry run's
#: warning must name. Fashion-MNIST comes from a Debian package that may be installed.
MISSING_DATA = {
    "config/paper.yaml": ["data/cub200", "data/cars196"],
    "config/reality_check_paper.yaml": ["data/cub200", "data/cars196"],
    "config/rehearsal.yaml": ["data/rehearsal"],
}
FASHION_ROOT = Path("/usr/share/datasets/fashion-mnist")
DRY_RUN_WARNING = "WARNING (dry run; a real run stops here)"

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


def doc_commands(path: Path) -> list[str]:
    """Every ``snakemake`` command of a Markdown file, whitespace normalised, in order."""
    text = path.read_text()
    found = []
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("snakemake "):
                found.append(" ".join(line.split()))
    for span in re.findall(r"`([^`]+)`", FENCE.sub("", text)):
        span = " ".join(span.split())
        if span.startswith("snakemake "):
            found.append(span)
    return list(dict.fromkeys(found))


COMMANDS = list(
    {
        c: (p.relative_to(REPO).as_posix(), c) for p in reversed(DOCS) for c in doc_commands(p)
    }.values()
)  # each command once, named by the first file that gives it


def test_the_docs_give_commands_and_exclusions_name_real_ones():
    """The parser finds the commands (the three a newcomer needs among them), and every
    exclusion is a command the docs still give."""
    commands = {c for _, c in COMMANDS}
    assert "snakemake --cores 2 all" in commands
    assert len(commands) >= 8, commands
    assert set(EXCLUDED) <= commands, set(EXCLUDED) - commands


@pytest.fixture(scope="session")
def slurm_profile_home(tmp_path_factory) -> Path:
    """An XDG_CONFIG_HOME into which envs/install_slurm_profile.sh installed the profile, as
    README says to do once before ``--profile slurm``."""
    home = tmp_path_factory.mktemp("xdg")
    env = {**snakemake_env(), "XDG_CONFIG_HOME": str(home)}
    proc = subprocess.run(
        ["bash", str(REPO / "envs" / "install_slurm_profile.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    require_success(proc, "envs/install_slurm_profile.sh")
    return home


def overlay_from_config_readme() -> str:
    """The ``quick.yaml`` overlay as config/README.md prints it."""
    for block in FENCE.findall((REPO / "config" / "README.md").read_text()):
        if block.startswith("# quick.yaml"):
            return block
    raise AssertionError("config/README.md no longer shows quick.yaml")


@pytest.fixture
def scratch(tmp_path) -> Path:
    """A folder laid out as a clone is, for the commands to run in."""
    for name in ("config", "profiles", "examples"):
        shutil.copytree(REPO / name, tmp_path / name)
    (tmp_path / "quick.yaml").write_text(overlay_from_config_readme())
    shutil.copy(TINY_CONFIG, tmp_path / "config" / "tiny.yaml")  # as config/README.md says
    return tmp_path


@pytest.mark.parametrize("doc, command", COMMANDS, ids=[f"{d}: {c}" for d, c in COMMANDS])
def test_documented_command_dry_runs(doc, command, scratch, slurm_profile_home):
    if command in EXCLUDED:
        pytest.skip(EXCLUDED[command])
    args = shlex.split(command)[1:]
    if not {"--lint", "--unlock"} & set(args):
        args.append("-n")
    cmd = [SNAKEMAKE, "-s", str(SNAKEFILE), "--nocolor", *args]
    env = {**snakemake_env(), "XDG_CONFIG_HOME": str(slurm_profile_home)}
    proc = subprocess.run(cmd, cwd=scratch, capture_output=True, text=True, env=env, timeout=300)
    require_success(proc, f"{command!r} ({doc})")
    text = output_of(proc)
    for config, folders in MISSING_DATA.items():
        if config in args:
            assert DRY_RUN_WARNING in text, text[-3000:]
            for folder in folders:
                assert f"searched: {scratch / folder}" in text, (folder, text[-3000:])
            assert "how to get them:" in text
    if "config/fashion.yaml" in args and not FASHION_ROOT.is_dir():
        assert DRY_RUN_WARNING in text and str(FASHION_ROOT) in text, text[-3000:]


# ------------------------------------------------------------------ What lands where
def landing_table() -> list[tuple[list[str], str]]:
    """(paths, produced by) of every row of README's "What lands where"."""
    text = (REPO / "README.md").read_text()
    section = text.split("## What lands where", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 3, line
        rows.append((re.findall(r"`([^`]+)`", cells[0]), cells[2]))
    return rows


#: "produced by" -> the configs (file, overlay) whose dry run must plan the row's paths;
#: None: not a workflow output.
GRID_OVERLAY = {"sweeps": {"protocol": "grid"}}
PRODUCERS = {
    "every config": [(TINY_CONFIG, None), (REPO / "config" / "config.yaml", None)],
    "a `head` experiment": [(REPO / "config" / "config.yaml", None)],
    "`sweeps.grids`": [(CONFIG_DIR / "tiny_tuned.yaml", None)],
    "`sweeps.protocol: grid`": [(CONFIG_DIR / "tiny_tuned.yaml", GRID_OVERLAY)],
    "`sweeps.protocol: tuned`": [(CONFIG_DIR / "tiny_tuned.yaml", None)],
    "`sweeps.search: tpe`": [(CONFIG_DIR / "tiny_search.yaml", None)],
    "`snakemake --report": None,
}


def producer(cell: str):
    keys = [k for k in PRODUCERS if cell.startswith(k)]
    assert len(keys) == 1, f"'produced by' {cell!r}: name one of {list(PRODUCERS)}"
    return PRODUCERS[keys[0]]


def patterns(path: str) -> list[re.Pattern]:
    """Regexes of a documented path: {a,b} alternatives expanded, {name} one path segment
    (or part of one), a folder (trailing /) anything under it."""
    m = re.search(r"\{([^{}]*,[^{}]*)\}", path)
    if m:
        return [
            p
            for alt in m.group(1).split(",")
            for p in patterns(path[: m.start()] + alt + path[m.end() :])
        ]
    parts = re.split(r"\{[^{}]*\}", path)
    regex = "[^/]+".join(map(re.escape, parts))
    return [re.compile(regex + (".+" if path.endswith("/") else ""))]


PLANNED_LINE = re.compile(r"^\s*(?:output|log|benchmark|input): (.*)$")


@pytest.fixture(scope="session")
def planned(tmp_path_factory):
    """(config, overlay) -> every file a dry run of ``all`` plans (outputs, logs, benchmark
    files and the targets of ``all``), computed once per session."""
    cache: dict = {}

    def files(config: Path, overlay) -> set[str]:
        key = (config, repr(overlay))
        if key not in cache:
            work = tmp_path_factory.mktemp("planned")
            configs = [config]
            if overlay:
                configs.append(write_config(work / "overlay.yaml", overlay))
            cmd = [SNAKEMAKE, "-s", SNAKEFILE, "--workflow-profile", PROFILE, "--nocolor"]
            cmd += ["--directory", work, "-n", "all", "--configfile", *configs]
            proc = subprocess.run(
                list(map(str, cmd)),
                capture_output=True,
                text=True,
                env=snakemake_env(),
                timeout=300,
            )
            require_success(proc, f"a dry run of {configs}")
            cache[key] = {
                f.strip()
                for line in proc.stdout.splitlines()
                if (m := PLANNED_LINE.match(line))
                for f in m.group(1).split(",")
            }
        return cache[key]

    return files


ROWS = landing_table()


def test_the_landing_table_is_read():
    assert len(ROWS) >= 20, ROWS


@pytest.mark.parametrize("paths, produced_by", ROWS, ids=[r[0][0] for r in ROWS])
def test_every_listed_output_is_planned(paths, produced_by, planned):
    configs = producer(produced_by)
    if configs is None:
        return
    for config, overlay in configs:
        files = planned(config, overlay)
        for path in paths:
            for pattern in patterns(path):
                assert any(pattern.fullmatch(f) for f in files), (
                    f"{path} ({pattern.pattern}) is not planned by {config.name} + {overlay}"
                )
