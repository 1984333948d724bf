"""Gradient estimators for discrete and continuous latents, and measures of their noise and bias.

One module each: :mod:`.score_function` (the score-function estimator and its baselines),
:mod:`.relaxation` (continuous relaxations and straight-through), :mod:`.variance` (mean,
variance, signal-to-noise ratio and bias of repeated estimates).
"""

from .relaxation import *  # noqa: F403
from .relaxation import __all__ as _relaxation
from .score_function import *  # noqa: F403
from .score_function import __all__ as _score_function
from .variance import *  # noqa: F403
from .variance import __all__ as _variance

__all__ = [*_score_function, *_relaxation, *_variance]
