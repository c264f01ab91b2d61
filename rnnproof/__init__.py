"""rnnproof: the numerical proof companion to Allen-Zhu & Li, "Can SGD Learn Recurrent
Neural Networks with Provable Generalization?" (NeurIPS 2019).

The public API of SPEC section 3 is re-exported here.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .rnn import (
    LowRank,
    Trace,
    Weights,
    back_operators,
    forward_trace,
    hidden_states,
    init_weights,
    linear_response,
    objective_and_grad,
    outputs,
)
from .sequences import embed, null_sequence, pad_to_unit

try:
    __version__ = version("rnnproof")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = [
    "LowRank", "Trace", "Weights", "back_operators", "embed", "forward_trace",
    "hidden_states", "init_weights", "linear_response", "null_sequence", "objective_and_grad",
    "outputs", "pad_to_unit", "__version__",
]
