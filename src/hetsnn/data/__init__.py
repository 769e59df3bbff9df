"""Data sets: canonical IDX parsing (``idx``), the MNIST / Fashion-MNIST loaders
(``images``), the Allen Cell Types table (``allen``) and where data files are looked for
(``locations``). Import the submodule you need: this package imports none of them, so the
command line can read ``locations`` without loading JAX."""
