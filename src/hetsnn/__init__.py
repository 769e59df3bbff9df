"""hetsnn: neuronal heterogeneity in spiking neural networks, in JAX.

Conventions used across the whole library:

* Time is in milliseconds; voltages, currents and resistances are dimensionless
  (see ``docs/science.md`` for the mapping to the paper's SI values).
* Sequences are **time-major**: an array over time has shape ``(T, ...)`` and every
  ``lax.scan`` over time scans its leading axis.
* Per-neuron quantities have the neuron axis last: ``(..., n_neurons)``.
"""

__version__ = "0.1.0"
