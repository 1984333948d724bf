"""The course's trained models: each loads its checkpoint, or trains it with its chapter's settings.

One module per chapter (``zoo/chNN.py``); each public function returns ``(model, info)``
where ``info`` holds at least ``seconds`` (training time) and ``loaded`` (came from disk).
Chapters call these functions, and chapter 11 calls them all, so a model is defined once
and trained once per build.
"""

import importlib
import pkgutil

__all__ = []

for _info in pkgutil.iter_modules(__path__):
    if _info.name.startswith("ch"):
        importlib.import_module(f"{__name__}.{_info.name}")
        __all__.append(_info.name)
