"""What every task scored by greedy episodes shares (gymnax and Brax alike).

A task of this kind defines ``episode_return(network, params, key, episode, data) ->
float32`` (one greedy episode; ``episode`` is its number, ``data`` the task's data set or
None) and the field ``episodes``; this mixin turns that into the task protocol's fitness,
final score and (empty) probe.
"""

from dataclasses import replace
from typing import ClassVar

import jax
import jax.numpy as jnp

NOISE_STREAM = 0x4015E  # fold-in constant for the membrane noise of a noise probe


def noise_key(key: jax.Array | None) -> jax.Array | None:
    """The key an episode's (or batch's) membrane noise is drawn from: ``key`` folded with
    :data:`NOISE_STREAM`."""
    return None if key is None else jax.random.fold_in(key, NOISE_STREAM)


def initial_state(network, params, key: jax.Array | None, *batch_shape):
    """``network.init_state(params, *batch_shape)``, started with the noise key of ``key``
    when the network's ``membrane_noise`` is on (the noise probe); any network with the
    interface's ``init_state`` works otherwise."""
    if getattr(network, "membrane_noise", 0):
        return network.init_state(params, *batch_shape, noise_key=noise_key(key))
    return network.init_state(params, *batch_shape)


class EpisodicEvaluation:
    """``evaluate``, ``final_score`` and ``probe`` from ``episode_return``."""

    has_probe: ClassVar[bool] = False  # see probe()

    def evaluate(self, network, params, key: jax.Array, data=None) -> jax.Array:
        """Mean return over ``self.episodes`` episodes (numbered 0, 1, ...), a float32
        scalar."""
        keys = jax.random.split(key, self.episodes)
        returns = jax.vmap(self.episode_return, in_axes=(None, None, 0, 0, None))(
            network, params, keys, jnp.arange(self.episodes), data
        )
        return returns.mean()

    def final_score(self, network, params, key: jax.Array, data, episodes: int) -> jax.Array:
        """Mean greedy return over ``episodes`` episodes."""
        return replace(self, episodes=episodes).evaluate(network, params, key, data)

    def probe(self, network, params, data, key) -> None:
        """No recordings beyond the metrics for episodic tasks."""
        return None
