"""``python -m dmlstudy.rehearsal DIR``: write the stand-ins (see :mod:`dmlstudy.rehearsal`)."""

from __future__ import annotations

import argparse
import os
import sys

from . import PARTS, Sizes, write_all


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m dmlstudy.rehearsal",
        description="Write stand-ins of MNIST, CIFAR-10, CUB-200-2011 and Cars196 in their "
        "real on-disk formats at their real sizes, and a small random ViT, under DIR "
        "(config/rehearsal.yaml reads data/rehearsal).",
    )
    p.add_argument("dir", help="folder to write into (config/rehearsal.yaml: data/rehearsal)")
    p.add_argument("--seed", type=int, default=0, help="seed of every stand-in (default 0)")
    p.add_argument(
        "--only", nargs="+", choices=PARTS, default=list(PARTS), help="write only these parts"
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every image count (class counts stay; default 1 = the real sizes)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes writing JPEGs (default: 2, or 1 on a 1-core machine)",
    )
    p.add_argument("--force", action="store_true", help="rewrite parts that are up to date")
    args = p.parse_args(argv)
    if args.scale <= 0:
        p.error("--scale must be positive")
    write_all(
        args.dir,
        seed=args.seed,
        sizes=Sizes().scaled(args.scale),
        parts=args.only,
        workers=args.workers,
        force=args.force,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
