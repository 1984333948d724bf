"""``python -m vaecourse.colab``: write the Colab edition, or record glued values."""

from .cli import main

raise SystemExit(main())
