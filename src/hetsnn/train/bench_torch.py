"""The PyTorch peers of ``hetsnn bench``: the Neuron-arm generation as a PyTorch user writes it.

The population is a batch dimension, the simulation steps a Python loop, the read-out is
updated at every step, and the generation is a hand-written PGPE step (antithetic noise
around the centre, the population and the centre evaluated in one batch, the centre moved
by a plain gradient step at a fixed std). That ES is cheaper than evosax's (no ClipUp, no
std update), so it errs in PyTorch's favour; the network and the fitness are hetsnn's, and
the bench checks that the fitness equals hetsnn's on the same individuals and inputs.
Each peer runs eagerly and compiled by ``torch.compile`` (default mode).

Workloads: the memory task (bsuite memory chain: its observations and reward written out,
they depend only on the step and the episode's cue), CartPole-v1 (gymnax's physics written
out) and image classification (a mini-batch of standardised images). torch is optional:
nothing here imports it until a peer is built.

The genome is ``(tau_logit, v_th, v_rest, R)`` stacked, ``(4 * n_hidden,)``, as in
:mod:`hetsnn.train.bench_peers`.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class TorchNetwork:
    """Shared weights ``w_in (n_in, H)``, ``w_out (H, n_out)`` as float32 tensors; read-out
    decay ``a = dt / readout_tau``; ``steps`` simulation steps per input."""

    w_in: object
    w_out: object
    a: float
    steps: int

    @classmethod
    def from_base(cls, base, dt: float, readout_tau: float, steps: int) -> "TorchNetwork":
        import torch

        def tensor(x):
            return torch.tensor(np.asarray(x), dtype=torch.float32)

        return cls(tensor(base.w_in), tensor(base.w_out), dt / readout_tau, steps)


def _present(net: TorchNetwork, genomes, v, readout, current):
    """``net.steps`` LIF steps of every individual: ``genomes (P, 4H)``, ``v (P, B, H)``,
    ``readout (P, B, n_out)``, ``current (B, H)`` shared by the population."""
    tau_logit, v_th, v_rest, resistance = genomes.reshape(genomes.shape[0], 4, -1).unbind(1)
    k, v_th = tau_logit.sigmoid()[:, None], v_th[:, None]
    v_rest, resistance = v_rest[:, None], resistance[:, None]
    for _ in range(net.steps):
        u = v + k * (resistance * current - v + v_rest)
        spikes = (u >= v_th).float()
        v = u * (1 - spikes) + v_rest * spikes
        readout = readout + net.a * (spikes @ net.w_out - readout)
    return v, readout


def _rest(net: TorchNetwork, genomes, batch: int):
    import torch

    v_rest = genomes.reshape(genomes.shape[0], 4, -1)[:, 2]
    v = v_rest[:, None].expand(-1, batch, -1)
    return v, torch.zeros(genomes.shape[0], batch, net.w_out.shape[1])


def image_fitness(net: TorchNetwork) -> Callable:
    """``fitness(genomes (P, 4H), inputs (B, n_in), labels (B,)) -> (P,)``: minus the mean
    cross-entropy of the read-out after the image (hetsnn's classification fitness)."""
    import torch

    def fitness(genomes, inputs, labels):
        v, readout = _rest(net, genomes, inputs.shape[0])
        _, logits = _present(net, genomes, v, readout, inputs @ net.w_in)
        picked = logits.log_softmax(-1).gather(-1, labels.expand(genomes.shape[0], -1)[..., None])
        return picked.squeeze(-1).mean(-1)

    return torch.no_grad()(fitness)


def memory_inputs(memory_length: int, episodes: int) -> tuple[np.ndarray, np.ndarray]:
    """bsuite memory chain's network inputs ``(N + 1, episodes, 2)`` (time entry, cue) and
    each episode's rewarded action ``(episodes,)`` (:mod:`hetsnn.tasks.memory`: the cue of
    episode e is ``2 (e % 2) - 1``, seen before the first two actions)."""
    n = memory_length
    actions = np.arange(episodes) % 2
    steps = np.arange(n + 1)
    time = 1.0 - np.maximum(0, steps - 1) / n
    cue = np.where(steps[:, None] <= 1, 2.0 * actions[None] - 1.0, 0.0)
    inputs = np.stack([np.broadcast_to(time[:, None], cue.shape), cue], axis=-1)
    return inputs.astype(np.float32), actions


def memory_fitness(net: TorchNetwork, memory_length: int, episodes: int) -> Callable:
    """``fitness(genomes (P, 4H)) -> (P,)``: the mean return over ``episodes`` episodes (+1
    when the last action repeats the cue, -1 otherwise; arg-max ties pick action 0)."""
    import torch

    inputs, actions = (torch.tensor(x) for x in memory_inputs(memory_length, episodes))

    def fitness(genomes):
        v, readout = _rest(net, genomes, episodes)
        for obs in inputs:  # the Python loop over environment steps
            v, readout = _present(net, genomes, v, readout, obs @ net.w_in)
        right = readout.argmax(-1) == actions
        return (2.0 * right.float() - 1.0).mean(-1)

    return torch.no_grad()(fitness)


def cartpole_fitness(net: TorchNetwork, params, max_steps: int) -> Callable:
    """``fitness(genomes (P, 4H), initial (E, 4)) -> (P,)``: the mean return of CartPole-v1
    episodes from the initial states ``initial`` (gymnax's physics, Euler steps, constants
    from its ``EnvParams`` ``params``; reward 1 per step up to and including the one that
    ends the episode, at most ``max_steps``). The Python loop over steps stops once every
    episode of every individual has ended, as a PyTorch user would let it."""
    import torch

    p = params

    def fitness(genomes, initial):
        state = initial.expand(genomes.shape[0], -1, -1)
        v, readout = _rest(net, genomes, initial.shape[0])
        alive = torch.ones(state.shape[:2], dtype=torch.bool)
        returns = torch.zeros(state.shape[:2])
        for _ in range(max_steps):
            v, readout = _present(net, genomes, v, readout, state @ net.w_in)
            action = readout.argmax(-1).float()
            x, x_dot, theta, theta_dot = state.unbind(-1)
            force = p.force_mag * action - p.force_mag * (1 - action)
            cos, sin = theta.cos(), theta.sin()
            temp = (force + p.polemass_length * theta_dot**2 * sin) / p.total_mass
            theta_acc = (p.gravity * sin - cos * temp) / (
                p.length * (4.0 / 3.0 - p.masspole * cos**2 / p.total_mass)
            )
            x_acc = temp - p.polemass_length * theta_acc * cos / p.total_mass
            state = torch.stack(
                [x + p.tau * x_dot, x_dot + p.tau * x_acc,
                 theta + p.tau * theta_dot, theta_dot + p.tau * theta_acc], -1,
            )  # fmt: skip
            returns += alive
            x, theta = state[..., 0], state[..., 2]
            alive &= (x.abs() <= p.x_threshold) & (theta.abs() <= p.theta_threshold_radians)
            if not alive.any():
                break
        return returns.mean(-1)

    return torch.no_grad()(fitness)


def cartpole_sampler(episodes: int) -> Callable:
    """``sample(generator) -> (initial (episodes, 4),)``: gymnax's reset, uniform in
    [-0.05, 0.05] per state entry."""
    import torch

    def sample(generator):
        return (torch.rand(episodes, 4, generator=generator) * 0.1 - 0.05,)

    return sample


def pgpe_generation(fitness: Callable, sample: Callable, population: int, std: float, lr: float):
    """``generation(centre (D,), generator) -> centre``: antithetic noise at ``std``, the
    population and the centre evaluated in one batch on ``sample(generator)``'s inputs,
    a gradient step of ``lr`` on the centre."""
    import torch

    @torch.no_grad()
    def generation(centre, generator):
        noise = torch.randn(population // 2, centre.shape[0], generator=generator) * std
        everyone = torch.cat([centre + noise, centre - noise, centre[None]])
        rewards = fitness(everyone, *sample(generator))[:-1]
        half = population // 2
        gradient = ((rewards[:half] - rewards[half:])[:, None] * noise).mean(0) / (2 * std**2)
        return centre + lr * gradient

    return generation


def image_sampler(images: np.ndarray, labels: np.ndarray, mean, std, batch: int) -> Callable:
    """``sample(generator) -> (inputs (batch, 784), labels (batch,))``: a random mini-batch,
    standardised as hetsnn's classification task does."""
    import torch

    pixels = torch.tensor(np.asarray(images).reshape(len(images), -1))
    targets = torch.tensor(np.asarray(labels), dtype=torch.int64)

    def sample(generator):
        index = torch.randint(0, len(pixels), (batch,), generator=generator)
        return (pixels[index].float() / 255.0 - float(mean)) / float(std), targets[index]

    return sample


def stream(base, population_hidden, xs, dt: float = 5.0, readout_tau: float = 20.0):
    """The stream workload in PyTorch (batched over individuals, a Python loop over time):
    the ``(population, n_out)`` read-out after the stream, float32, CPU."""
    import torch

    def tensor(x):
        return torch.tensor(np.asarray(x), dtype=torch.float32)

    decay = torch.sigmoid(tensor(population_hidden.tau_logit))
    v_th, v_rest = tensor(population_hidden.v_th), tensor(population_hidden.v_rest)
    resistance = tensor(population_hidden.resistance)
    w_in, w_out, inputs = tensor(base.w_in), tensor(base.w_out), tensor(xs)
    a = dt / readout_tau
    with torch.no_grad():
        v = v_rest.clone()
        readout = torch.zeros(v.shape[0], w_out.shape[1])
        for x in inputs:  # the Python loop over time of a typical PyTorch SNN
            current = x @ w_in
            u = v + decay * (resistance * current - v + v_rest)
            spikes = (u >= v_th).float()
            v = u * (1 - spikes) + v_rest * spikes
            readout = readout + a * (spikes @ w_out - readout)
    return readout.numpy()
