"""``python -m matting_data.training`` / ``torchrun --nproc-per-node N -m matting_data.training ...``."""

from __future__ import annotations

import argparse
import sys

from ..errors import MattingDataError
from .options import add_train_arguments, run_from_args


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m matting_data.training", description="train a matting model")
    add_train_arguments(p)
    args = p.parse_args(argv)
    try:
        return run_from_args(args)
    except MattingDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
