"""``python -m vaecourse.colab``: write the Colab edition, or record the published run's glued values."""

from .cli import main

raise SystemExit(main())
