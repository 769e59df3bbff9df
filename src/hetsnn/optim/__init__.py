"""Optimisers: evolution strategies through evosax (gradient training: later, via optax)."""

from hetsnn.optim.es import Maximiser, make_maximiser, sanitize_rewards

__all__ = ["Maximiser", "make_maximiser", "sanitize_rewards"]
