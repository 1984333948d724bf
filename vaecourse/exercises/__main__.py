"""``python -m vaecourse.exercises``: see :mod:`vaecourse.exercises.cli`."""

import sys

from .cli import main

sys.exit(main())
