"""Automatic checks of the coding exercises: ``check_<name>(your_function)`` prints a verdict, returns a bool.

Each chapter's checks live in ``checks/chNN.py`` (or ``checks/<chapter name>.py``); every
``check_*`` function of those modules is imported here automatically, so
``from vaecourse.checks import check_pixels_on_per_digit`` works for any chapter and a new chapter
never edits this file.

>>> from vaecourse.checks import check_pixels_on_per_digit
>>> check_pixels_on_per_digit(lambda x, labels, num_classes=10: None)
✗ pixels_on_per_digit: on a batch of random images: the output should be a torch.Tensor, got NoneType None
False
"""

from __future__ import annotations

import importlib
import pkgutil
import re

__all__: list[str] = []

_CHAPTER = re.compile(
    r"ch\d\d|[a-z]+"
)  # checks/ch00.py ... checks/ch08.py, checks/relaxations.py


def _collect() -> dict[str, str]:
    """Import every chapter module and re-export its ``check_*`` functions; return name -> module."""
    origin: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not _CHAPTER.fullmatch(info.name):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name in getattr(module, "__all__", dir(module)):
            if not name.startswith("check_"):
                continue
            if name in origin:
                raise ImportError(
                    f"{name} is defined in both checks/{origin[name]}.py and checks/{info.name}.py"
                )
            origin[name] = info.name
            globals()[name] = getattr(module, name)
            __all__.append(name)
    __all__.sort()
    return origin


CHECK_MODULES = _collect()
"""Which chapter module defines each check."""
