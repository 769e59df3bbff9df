"""The spiking models: neurons, surrogate derivatives, networks, genomes, and the companion
studies' networks (reservoirs, the recurrent E/I network, STDP)."""
