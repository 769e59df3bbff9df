import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hetsnn.errors import ConfigError
from hetsnn.model import neurons
from hetsnn.model.genome import PROPERTIES, WEIGHTS, Genome, hidden_size_for_budget
from hetsnn.model.networks import FeedforwardSNN

pytestmark = pytest.mark.usefixtures("strict_dtypes")

NETWORK = FeedforwardSNN(n_in=3, n_hidden=5, n_out=2)
HIDDEN = neurons.homogeneous(5, dt=5.0, tau_m=20.0, v_th=0.5, v_rest=0.0, resistance=1.0)
BASE = NETWORK.init(jax.random.key(0), HIDDEN)
SUBSETS = [subset for r in range(1, 5) for subset in itertools.combinations(PROPERTIES, r)] + [
    (WEIGHTS,)
]


@pytest.mark.parametrize("trainable", SUBSETS, ids=lambda t: "+".join(t))
def test_flatten_unflatten_round_trip_changes_only_selected_leaves(trainable):
    genome = Genome(trainable)
    flat = genome.flatten(BASE)
    assert flat.shape == (genome.size(NETWORK),)
    changed = genome.unflatten(flat + 1.0, BASE)
    np.testing.assert_allclose(genome.flatten(changed), flat + 1.0)
    fields = {"tau_m": "tau_logit", "v_th": "v_th", "v_rest": "v_rest", "R": "resistance"}
    for name, field in fields.items():
        moved = not np.allclose(getattr(changed.hidden, field), getattr(BASE.hidden, field))
        assert moved == (name in trainable)
    assert (not np.allclose(changed.w_in, BASE.w_in)) == (WEIGHTS in trainable)
    assert (not np.allclose(changed.w_out, BASE.w_out)) == (WEIGHTS in trainable)


def test_trainable_is_canonical_and_validated():
    assert Genome(("R", "tau_m")).trainable == ("tau_m", "R")
    with pytest.raises(ConfigError, match="unknown trainable"):
        Genome(("tau",))
    with pytest.raises(ConfigError, match="empty"):
        Genome(())


@pytest.mark.parametrize(
    "n_hidden, expected", [(5, 3_970), (10, 7_940), (21, 16_674), (42, 33_348)]
)
def test_weight_arm_counts_match_the_paper_for_mnist(n_hidden, expected):
    network = FeedforwardSNN(n_in=784, n_hidden=n_hidden, n_out=10)
    assert Genome((WEIGHTS,)).size(network) == expected


@pytest.mark.parametrize(
    "budget, neuron_h, weight_h", [(4096, 1024, 5), (8192, 2048, 10), (16384, 4096, 21)]
)
def test_hidden_size_for_budget_mnist(budget, neuron_h, weight_h):
    assert hidden_size_for_budget(PROPERTIES, budget, 784, 10) == neuron_h
    assert hidden_size_for_budget(WEIGHTS, budget, 784, 10) == weight_h
    assert Genome(PROPERTIES).size(FeedforwardSNN(n_in=784, n_hidden=neuron_h, n_out=10)) == budget


def test_budget_must_be_positive():
    with pytest.raises(ConfigError):
        hidden_size_for_budget(PROPERTIES, 0, 2, 2)


@pytest.mark.parametrize("space", ["direct", "relative", "log"])
def test_every_search_space_round_trips_the_properties(space):
    from hetsnn.model.genome import PROPERTIES

    network = FeedforwardSNN(n_in=3, n_hidden=8, n_out=2)
    hidden = neurons.homogeneous(8, dt=5.0, tau_m=20.0, v_th=0.5, v_rest=0.0, resistance=1.0)
    keys = jax.random.split(jax.random.key(4), 3)
    hidden = hidden.replace(
        v_th=hidden.v_th + 0.2 * jax.random.uniform(keys[0], (8,)),
        v_rest=hidden.v_rest - 0.1 * jax.random.uniform(keys[1], (8,)),
        resistance=hidden.resistance * jnp.exp(0.3 * jax.random.normal(keys[2], (8,))),
    )
    params = network.init(jax.random.key(5), hidden)
    for trainable in (PROPERTIES, ("v_th", "R"), ("v_rest",)):
        genome = Genome(trainable, space, gap=0.5)
        back = genome.unflatten(genome.flatten(params), params)
        for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(params), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_log_space_keeps_resistance_and_threshold_gap_positive():
    from hetsnn.model.genome import PROPERTIES

    network = FeedforwardSNN(n_in=3, n_hidden=8, n_out=2)
    hidden = neurons.homogeneous(8, dt=5.0, tau_m=20.0, v_th=0.5, v_rest=0.0, resistance=1.0)
    base = network.init(jax.random.key(5), hidden)
    genome = Genome(PROPERTIES, "log", gap=0.5)
    flat = jax.random.normal(jax.random.key(6), (genome.size(network),)) * 5.0
    params = genome.unflatten(flat, base)
    assert bool(jnp.all(params.hidden.resistance > 0))
    assert bool(jnp.all(params.hidden.v_th > params.hidden.v_rest))
    direct = Genome(PROPERTIES, "direct").unflatten(flat, base)
    assert bool(jnp.any(direct.hidden.resistance < 0))  # the same coordinates, unguarded


def test_relative_space_scales_voltage_steps_by_the_gap():
    network = FeedforwardSNN(n_in=3, n_hidden=4, n_out=2)
    hidden = neurons.homogeneous(4, dt=5.0, tau_m=20.0, v_th=0.5, v_rest=0.0, resistance=1.0)
    base = network.init(jax.random.key(5), hidden)
    genome = Genome(("v_th",), "relative", gap=0.5)
    step = genome.flatten(base) + 0.1
    np.testing.assert_allclose(genome.unflatten(step, base).hidden.v_th, 0.55, rtol=1e-6)


def test_subsets_of_one_size_share_a_layout_and_differ_only_in_rows():
    one, other = Genome(("tau_m", "v_th")), Genome(("v_rest", "R"))
    assert one.layout == other.layout and hash(one.layout) == hash(other.layout)
    assert one.rows != other.rows
    unflatten = jax.jit(one.layout.unflatten)
    flat = one.flatten(BASE) + 0.25
    for genome in (one, other):
        got, want = unflatten(flat, genome.base(BASE)), genome.unflatten(flat, BASE)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_array_equal(a, b)
    assert unflatten._cache_size() == 1  # one program for both selections


def test_flat_vector_keeps_the_alphabetical_property_order_of_old_checkpoints():
    genome = Genome((WEIGHTS, "v_th", "tau_m", "R"))
    hidden = BASE.hidden
    expected = np.concatenate(
        [hidden.resistance, hidden.tau_logit, hidden.v_th, BASE.w_in.ravel(), BASE.w_out.ravel()]
    )
    np.testing.assert_array_equal(genome.flatten(BASE), expected)
