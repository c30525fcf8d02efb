"""The `hyper` method's shared networks (Flax): one model for every rate, trained once and shipped.

A signal's file carries only integer latent grids, the signal's modulations: y at 1/4 of the image
(`m` channels) and z at 1/8 (`mz` channels). Shared and shipped: the synthesis (y -> pixels), the
hyper-synthesis (z -> the mean and scale of each latent of y: the context/entropy model), the gain
vectors of each rate level (Cui et al. 2021: level l quantises channel c with step 1/gain[l, c]) and
the meta-SGD inner learning rates of the encoder's refinement. The analysis networks (pixels -> a
learned start of y and z) run only in the encoder.

Rate levels are fractional (log-interpolated gains); level l trades bits for squared error with
lambda = LAMBDAS[0] * 2 ** (0.75 l) in loss = bits per pixel + lambda * MSE on the 0..255 scale.
Images are (B, H, W, 3) in [0, 1], H and W multiples of 8 (the encoder pads).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ..hyperbase import d2s  # the pixel shuffle, the inverse of s2d (NumPy or JAX arrays alike)

LEVELS = 12  # rate levels with their own gain vectors
LAMBDAS = tuple(0.0025 * 2.0 ** (0.75 * (k - 2)) for k in range(LEVELS))  # lambda of each level
SCALE_MIN, SCALE_MAX = 0.11, 80.0  # range of a latent's Laplace scale, in quantisation steps
INNER_STEPS = 3  # meta-SGD steps of the encoder's refinement that training runs through

gelu = nn.gelu  # tanh approximation (`hyper_decode` mirrors it)


def lam_of(level):
    """Lambda of a fractional rate level."""
    return LAMBDAS[0] * 2.0 ** (0.75 * level)


def s2d(x, r=2):
    """(B, H, W, C) -> (B, H/r, W/r, r*r*C)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // r, r, w // r, r, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h // r, w // r, r * r * c)


class Analysis(nn.Module):
    """Encoder only: pixels (centred) -> the learned start of y, (B, H/4, W/4, m)."""
    n: int = 48  # feature channels
    m: int = 48  # latent channels of y

    @nn.compact
    def __call__(self, x):
        x = s2d(x)
        x = gelu(nn.Conv(self.n, (3, 3))(x))
        x = gelu(nn.Conv(self.n, (3, 3))(x))
        x = s2d(x)
        x = gelu(nn.Conv(2 * self.n, (1, 1))(x))
        return nn.Conv(self.m, (3, 3))(x)


class Synthesis(nn.Module):
    """Shipped: y (B, H/4, W/4, m) -> pixels (B, H, W, 3) in [0, 1]."""
    n: int = 48  # feature channels at 1/4 and 1/2
    n2: int = 24  # feature channels of the last upsampling

    @nn.compact
    def __call__(self, y):
        x = gelu(nn.Conv(2 * self.n, (3, 3))(y))
        x = gelu(d2s(nn.Conv(4 * self.n, (1, 1))(x)))
        x = gelu(nn.Conv(self.n, (3, 3))(x))
        x = gelu(d2s(nn.Conv(4 * self.n2, (1, 1))(x)))
        return nn.Conv(3, (3, 3))(x)


class HyperAnalysis(nn.Module):
    """Encoder only: y -> the learned start of z, (B, H/8, W/8, mz)."""
    mz: int = 24  # latent channels of z

    @nn.compact
    def __call__(self, y):
        x = gelu(nn.Conv(64, (3, 3))(y))
        x = gelu(nn.Conv(64, (1, 1))(s2d(x)))
        return nn.Conv(self.mz, (3, 3))(x)


class HyperSynthesis(nn.Module):
    """Shipped context model: z (unscaled) -> (B, H/4, W/4, 2m): each y latent's mean and log scale."""
    m: int = 48  # latent channels of y

    @nn.compact
    def __call__(self, z):
        x = gelu(nn.Conv(64, (3, 3), name="c0")(z))
        x = gelu(d2s(nn.Conv(4 * 64, (1, 1), name="c1")(x)))
        x = gelu(nn.Conv(64, (3, 3), name="c2")(x))
        return nn.Conv(2 * self.m, (1, 1), name="c3")(x)


class Codec(nn.Module):
    """All of it; `level` is (B,) fractional rate levels. Latents are in the scaled (integer-step) domain."""
    n: int = 48  # analysis/synthesis channels
    n2: int = 24  # synthesis channels of the last upsampling
    m: int = 48  # channels of y
    mz: int = 24  # channels of z

    def setup(self):
        self.ga, self.gs = Analysis(self.n, self.m), Synthesis(self.n, self.n2)
        self.ha, self.hs = HyperAnalysis(self.mz), HyperSynthesis(self.m)
        spread = lambda rng, shape: jnp.broadcast_to((0.25 * (jnp.arange(shape[0]) - shape[0] / 2))[:, None], shape)
        self.log_gy = self.param("log_gy", spread, (LEVELS, self.m))
        self.log_gz = self.param("log_gz", spread, (LEVELS, self.mz))
        self.z_logscale = self.param("z_logscale", nn.initializers.zeros, (self.mz,))
        init_lr = lambda rng, shape: jnp.full(shape, np.log(0.05), jnp.float32)
        self.log_lr = self.param("log_lr", init_lr, (INNER_STEPS, self.m + self.mz))

    def gains(self, level):
        """(B,) levels -> gains of y (B,1,1,m) and z (B,1,1,mz); outside [0, LEVELS-1] they extrapolate."""
        lo = jnp.clip(jnp.floor(level), 0, LEVELS - 2).astype(jnp.int32)
        t = (level - lo)[:, None]
        gy = jnp.exp((1 - t) * self.log_gy[lo] + t * self.log_gy[lo + 1])
        gz = jnp.exp((1 - t) * self.log_gz[lo] + t * self.log_gz[lo + 1])
        return gy[:, None, None, :], gz[:, None, None, :]

    def encode(self, x, level):
        """Centred pixels -> the learned start of (y, z), scaled."""
        y = self.ga(x)
        gy, gz = self.gains(level)
        return y * gy, self.ha(y) * gz

    def prior(self, zq, level):
        """Integer z -> mean (scaled) and scale of y, scale of z (broadcast)."""
        gy, gz = self.gains(level)
        mu, log_scale = jnp.split(self.hs(zq / gz), 2, axis=-1)
        lo, hi = np.log(SCALE_MIN), np.log(SCALE_MAX)  # clip before exp: no inf * 0 gradients
        sigma_y = jnp.exp(jnp.clip(log_scale + jnp.log(gy), lo, hi))
        sigma_z = jnp.exp(jnp.clip(self.z_logscale + jnp.log(gz), lo, hi))
        return mu * gy, sigma_y, sigma_z

    def decode(self, yq, level):
        """Scaled y -> pixels in [0, 1] (unclipped; the synthesis' last bias carries the mid-grey)."""
        gy, _ = self.gains(level)
        return self.gs(yq / gy)

    def __call__(self, x, level):  # touches every submodule, for init
        ys, zs = self.encode(x, level)
        mu, _, _ = self.prior(zs, level)
        return self.decode(ys - mu, level)


def laplace_bits(v, b):
    """-log2 P(the unit bin around v) under a zero-mean Laplace of scale b."""
    a = jnp.abs(v)
    lo, up = a - 0.5, a + 0.5
    el, eu = jnp.exp(-jnp.abs(lo) / b), jnp.exp(-up / b)
    p = jnp.where(lo >= 0, 0.5 * el * (-jnp.expm1(-1.0 / b)), 1 - 0.5 * (eu + el))
    return -jnp.log2(jnp.maximum(p, 1e-9))


def ste_round(x):
    """Round forward, identity backward."""
    return x + jax.lax.stop_gradient(jnp.round(x) - x)


def rd_terms(model, params, ys, zs, x, level, key=None):
    """(B,) bits and (B,) MSE (0..255 scale) of latents (ys, zs) for images x (B, H, W, 3) in [0, 1].

    key: additive uniform noise for the rate (the training proxy); None: straight-through rounding.
    The distortion always goes through straight-through rounding.
    """
    if key is not None:
        key_z, key_y = jax.random.split(key)
        zr = zs + jax.random.uniform(key_z, zs.shape, minval=-.5, maxval=.5)
    else:
        zr = ste_round(zs)
    zq = ste_round(zs)
    mu, sigma_y, sigma_z = model.apply(params, zq, level, method=Codec.prior)
    if key is not None:
        yr = ys - mu + jax.random.uniform(key_y, ys.shape, minval=-.5, maxval=.5)
    else:
        yr = ste_round(ys - mu)
    xh = model.apply(params, ste_round(ys - mu) + mu, level, method=Codec.decode)
    bits = laplace_bits(zr, sigma_z).sum((1, 2, 3)) + laplace_bits(yr, sigma_y).sum((1, 2, 3))
    mse = jnp.mean(jnp.square((xh - x) * 255.0), axis=(1, 2, 3))
    return bits, mse


def rd_loss(model, params, latents, x, level, key):
    """Sum over the batch of each image's bits + lambda * MSE * pixels (a loss in bits), and the per-image
    rounded (true) loss."""
    ys, zs = latents
    pixels = x.shape[1] * x.shape[2]
    bits, mse = rd_terms(model, params, ys, zs, x, level, key)
    true_bits, true_mse = rd_terms(model, params, ys, zs, x, level, None) if key is not None else (bits, mse)
    weight = lam_of(level) * pixels
    return jnp.sum(bits + weight * mse), true_bits + weight * true_mse


def _normalised(grad):
    """(B, h, w, c) gradient / its root mean square over each image's grid."""
    return grad * jax.lax.rsqrt(jnp.mean(jnp.square(grad), axis=(1, 2, 3), keepdims=True) + 1e-20)


def inner_loop(model, params, x, level, key):
    """The encoder's refinement, first-order meta-SGD: from the learned start, INNER_STEPS steps of
    latents -= exp(log_lr[step, channel]) * gradient / its rms over the image's grid (held constant for
    the outer loss), so that a step is in quantisation steps whatever the level's lambda.

    Returns the latents after each step, the start included: a list of INNER_STEPS + 1 pairs (ys, zs).
    """
    latents = model.apply(params, x - 0.5, level, method=Codec.encode)
    m = latents[0].shape[-1]
    path = [latents]
    for step in range(INNER_STEPS):
        grads, _ = jax.grad(lambda lat: rd_loss(model, jax.lax.stop_gradient(params), lat, x, level,
                                                jax.random.fold_in(key, step)), has_aux=True)(latents)
        lr = jnp.exp(params["params"]["log_lr"][step])
        ys, zs = (jax.lax.stop_gradient(_normalised(g)) for g in grads)
        latents = (latents[0] - lr[:m] * ys, latents[1] - lr[m:] * zs)
        path.append(latents)
    return path
