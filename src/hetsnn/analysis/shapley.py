"""Exact Shapley values of a cooperative game given by its value on every coalition.

For players N (n of them) and a value function v on all subsets of N, the Shapley value of
player i is its marginal contribution averaged over all orders in which players join::

    phi_i = sum over S subset of N \\ {i} of  |S|! (n - |S| - 1)! / n!  * (v(S u {i}) - v(S))

It is the unique attribution with efficiency (sum_i phi_i = v(N) - v({})), symmetry, the
null-player property and additivity. In the ablation study the players are the four neuron
properties, v(S) is the reward reached when exactly the properties in S are trained, and
v({}) is the untrained network's reward.
"""

import itertools
import math
from collections.abc import Hashable, Iterable, Mapping


def coalitions(players: Iterable[Hashable]) -> list[frozenset]:
    """All ``2**n`` subsets of ``players``, the empty one first, by size."""
    players = list(players)
    return [
        frozenset(subset)
        for size in range(len(players) + 1)
        for subset in itertools.combinations(players, size)
    ]


def shapley_values(
    players: Iterable[Hashable], value: Mapping[frozenset, float]
) -> dict[Hashable, float]:
    """Exact Shapley value of each player.

    Args:
        players: the distinct players (n of them; the sum has 2**(n-1) terms per player).
        value: v(S) for every subset S of ``players`` (frozensets), the empty set included.

    Raises:
        ValueError: duplicate players, or a coalition missing from ``value``.
    """
    players = list(players)
    if len(set(players)) != len(players):
        raise ValueError(f"players must be distinct, got {players}")
    missing = [sorted(map(str, s)) for s in coalitions(players) if s not in value]
    if missing:
        raise ValueError(f"the value of these coalitions is missing: {missing}")
    n = len(players)
    phi = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for subset in coalitions(others):
            weight = math.factorial(len(subset)) * math.factorial(n - len(subset) - 1)
            total += weight * (value[subset | {player}] - value[subset])
        phi[player] = total / math.factorial(n)
    return phi
