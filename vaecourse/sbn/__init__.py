"""Sigmoid belief networks: binary latents, a mean-field posterior per data point, and an amortised twin.

One module each: :mod:`.base` (the generative model, enumeration and fitting q, shared),
:mod:`.belief_net` (the mean-field :class:`SigmoidBeliefNet`), :mod:`.amortised`
(:class:`AmortisedSBN`).
"""

from ..mean_field import FittedPosterior, mean_field_gradient
from ..samplers import all_binary_states
from .amortised import AmortisedSBN
from .base import MAX_ENUMERATION_DIM
from .belief_net import SigmoidBeliefNet

__all__ = [
    "SigmoidBeliefNet",
    "AmortisedSBN",
    "FittedPosterior",
    "MAX_ENUMERATION_DIM",
    "all_binary_states",
    "mean_field_gradient",
]
