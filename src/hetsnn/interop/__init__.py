"""Trained networks out of hetsnn: NIR graphs with a verified round trip (needs ``nir``)."""
