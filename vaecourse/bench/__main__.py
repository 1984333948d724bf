"""Run the benchmarks: ``python -m vaecourse.bench --help``."""

import sys

from .cli import main

sys.exit(main())
