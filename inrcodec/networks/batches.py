"""Training a shipped network once, on many examples: Adam on random batches (the context and
synthesis networks).

    params = train(model, loss, inputs, targets, config)   # loss(model, params, x, y) -> scalar
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax


@dataclass(frozen=True)
class TrainConfig:
    width: int = 32  # hidden units a layer
    steps: int = 20000  # Adam steps
    batch: int = 8192  # examples a step
    learning_rate: float = 2e-3  # Adam's, cosine-decayed to 0
    seed: int = 0  # of the initialisation and the batches
    log_every: int = 1000  # steps between progress lines
    # examples a batch takes from each of its signals, the inputs being (signals, examples, ...) and the loss
    # seeing (batch / group, group, ...); 0: examples drawn alone from (n, ...)
    group: int = 0


def train(model, loss, inputs: np.ndarray, targets: np.ndarray, config: TrainConfig, log=print):
    """Flax parameters of `model` trained by Adam on random batches of the (n, ...) inputs and (n, ...)
    targets (grouped by signal: `TrainConfig.group`) to `loss(model, params, x, y)`; a progress line every
    config.log_every steps."""
    params = model.init(jax.random.PRNGKey(config.seed), jnp.zeros((1, inputs.shape[-1])))
    adam = optax.adam(optax.cosine_decay_schedule(config.learning_rate, config.steps))
    state = adam.init(params)

    @jax.jit
    def step(params, state, x, y):
        value, grads = jax.value_and_grad(lambda p: loss(model, p, x, y))(params)
        updates, state = adam.update(grads, state)
        return optax.apply_updates(params, updates), state, value

    rng = np.random.default_rng(config.seed)
    for i in range(config.steps):
        if config.group:
            signals = rng.integers(0, len(inputs), (config.batch // config.group, 1))
            pick = signals, rng.integers(0, inputs.shape[1], (len(signals), config.group))
        else:
            pick = rng.integers(0, len(inputs), config.batch)
        params, state, value = step(params, state, inputs[pick], targets[pick])
        if i % config.log_every == 0 or i == config.steps - 1:
            log(f"step {i}: loss {float(value):.5f}")
    return params
