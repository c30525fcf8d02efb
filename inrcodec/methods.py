"""The image coding methods by name, importable without JAX (the command line's choices)."""

METHODS = {"coin": 0, "sparse": 1, "meta": 2, "pyramid": 3}  # method name -> code in the file
DEFAULT_METHOD = "pyramid"  # the best at every cap measured (README)
