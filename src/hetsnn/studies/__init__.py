"""The companion studies that train no RunConfig: what each computes on its networks (the
quenched reservoirs on the temporal suite, STDP and its Bayesian design, the E/I network by
BPTT) as jobs for :mod:`hetsnn.train.jobs`, and the read-outs and suite scores they share."""
