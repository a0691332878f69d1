#!/usr/bin/env python
"""Convert the Gravity Spy training set (HDF5 or PNG folders) into an Arrow DatasetDict.

The same command as ``gravityvit convert`` (same options, same function); see ``docs/data.md``.

Example::

    python conversion_scripts/convert_gravityspy_to_arrow.py \\
        --hdf5 data/gravityspy/trainingsetv1d1.h5 --metadata data/gravityspy/trainingset_v1d1_metadata.csv \\
        --output data/gravityspy/arrow --num-proc 2
"""

from __future__ import annotations

import argparse
import sys

from gravityvit.commands.common import fold_lines
from gravityvit.commands.convert import DESCRIPTION, add_convert_arguments, run


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments of the converter (shared with ``gravityvit convert``)."""
    return add_convert_arguments(argparse.ArgumentParser(description=fold_lines(DESCRIPTION)))


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and convert; returns the exit code (0 ok, 1 bad input, 2 usage)."""
    from gravityvit.file_utils import workers_die_with_parent

    workers_die_with_parent()  # --num-proc workers must not outlive a killed conversion
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
