"""The coding methods by name, importable without JAX (the command line's choices)."""

METHODS = {"coin": 0, "sparse": 1, "meta": 2, "pyramid": 3}  # method name -> code in the file
METHOD_NAMES = {code: name for name, code in METHODS.items()}  # code in the file -> method name
DEFAULT_METHOD = "pyramid"  # the best at every cap measured (README, Results)
