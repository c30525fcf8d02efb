"""Shared synthesis + shared entropy model for CIFAR-10 (issue 27 probe).

Per-image file = integer latents only: z (4x4xMz, factorized Laplace) and
y (8x8xM, Laplace whose mean/scale come from the shared hyper-synthesis of z),
plus the rate-level index.  Variable rate from ONE model via per-level gain
vectors (Cui et al. 2021): the quantization step of each channel is 1/gain.
"""
import numpy as np
import jax, jax.numpy as jnp
import flax.linen as nn

LAMBDAS = tuple(0.0025 * 2.0 ** (k * 0.75) for k in range(10))  # loss = bpp + lam*MSE255


def lam_of(level):  # geometric interpolation between levels
    return LAMBDAS[0] * 2.0 ** (0.75 * level)
SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 80.0, 64


def s2d(x, r=2):
    b, h, w, c = x.shape
    x = x.reshape(b, h // r, r, w // r, r, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h // r, w // r, r * r * c)


def d2s(x, r=2, xp=jnp):
    b, h, w, c = x.shape
    x = x.reshape(b, h, w, r, r, c // (r * r)).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h * r, w * r, c // (r * r))


gelu = nn.gelu  # tanh approximation (mirrored in numpy below)


class Analysis(nn.Module):  # amortized encoder: learned START of the latents
    n: int = 48
    m: int = 48

    @nn.compact
    def __call__(self, x):
        x = s2d(x)                                        # 16x16x12
        x = gelu(nn.Conv(self.n, (3, 3))(x))
        x = gelu(nn.Conv(self.n, (3, 3))(x))
        x = s2d(x)                                        # 8x8x4n
        x = gelu(nn.Conv(2 * self.n, (1, 1))(x))
        return nn.Conv(self.m, (3, 3))(x)                 # 8x8xm


class Synthesis(nn.Module):  # shared decoder (ships with the codec)
    n: int = 48
    n2: int = 24

    @nn.compact
    def __call__(self, y):
        x = gelu(nn.Conv(2 * self.n, (3, 3))(y))          # 8x8
        x = gelu(d2s(nn.Conv(4 * self.n, (1, 1))(x)))     # 16x16xn
        x = gelu(nn.Conv(self.n, (3, 3))(x))
        x = gelu(d2s(nn.Conv(4 * self.n2, (1, 1))(x)))    # 32x32xn2
        return nn.Conv(3, (3, 3))(x)


class HyperAnalysis(nn.Module):
    mz: int = 24

    @nn.compact
    def __call__(self, y):
        x = gelu(nn.Conv(64, (3, 3))(y))
        x = gelu(nn.Conv(64, (1, 1))(s2d(x)))             # 4x4
        return nn.Conv(self.mz, (3, 3))(x)


class HyperSynthesis(nn.Module):  # shared entropy model: z -> (mu, log sigma) of y
    m: int = 48

    @nn.compact
    def __call__(self, z):
        x = gelu(nn.Conv(64, (3, 3), name="c0")(z))
        x = gelu(d2s(nn.Conv(4 * 64, (1, 1), name="c1")(x)))   # 8x8x64
        x = gelu(nn.Conv(64, (3, 3), name="c2")(x))
        return nn.Conv(2 * self.m, (1, 1), name="c3")(x)


class Codec(nn.Module):
    n: int = 48
    n2: int = 24
    m: int = 48
    mz: int = 24
    levels: int = len(LAMBDAS)

    def setup(self):
        self.ga, self.gs = Analysis(self.n, self.m), Synthesis(self.n, self.n2)
        self.ha, self.hs = HyperAnalysis(self.mz), HyperSynthesis(self.m)
        spread = lambda rng, sh: jnp.broadcast_to(
            (0.25 * (jnp.arange(sh[0]) - sh[0] / 2))[:, None], sh)
        self.log_gy = self.param("log_gy", spread, (self.levels, self.m))
        self.log_gz = self.param("log_gz", spread, (self.levels, self.mz))
        self.z_logscale = self.param("z_logscale", nn.initializers.zeros, (self.mz,))

    def gains(self, level):  # level: float array (B,), fractional = log-interp
        lo = jnp.clip(jnp.floor(level), 0, self.levels - 2).astype(jnp.int32)
        t = (level - lo)[:, None]
        gy = jnp.exp((1 - t) * self.log_gy[lo] + t * self.log_gy[lo + 1])
        gz = jnp.exp((1 - t) * self.log_gz[lo] + t * self.log_gz[lo + 1])
        return gy[:, None, None, :], gz[:, None, None, :]

    def encode(self, x, level):  # amortized start, scaled (integer-step) domain
        y = self.ga(x)
        z = self.ha(y)
        gy, gz = self.gains(level)
        return y * gy, z * gz

    def prior(self, zq, level):  # -> mu_s, sigma_s of y (scaled domain), sigma of z
        gy, gz = self.gains(level)
        h = self.hs(zq / gz)
        mu, ls = jnp.split(h, 2, axis=-1)
        lo, hi = np.log(SCALE_MIN), np.log(SCALE_MAX)   # clip BEFORE exp (no inf*0 grads)
        sig = jnp.exp(jnp.clip(ls + jnp.log(gy), lo, hi))
        sz = jnp.exp(jnp.clip(self.z_logscale + jnp.log(gz), lo, hi))
        return mu * gy, sig, sz

    def decode(self, yq, level):
        gy, _ = self.gains(level)
        return self.gs(yq / gy)

    def __call__(self, x, level):  # touches every submodule (for init)
        ys, zs = self.encode(x, level)
        mu, _, _ = self.prior(zs, level)
        return self.decode(ys - mu, level)


def laplace_bits(v, b):
    """-log2 P(integer bin containing v) for centered Laplace of scale b (jnp)."""
    a = jnp.abs(v)
    lo, up = a - 0.5, a + 0.5
    el, eu = jnp.exp(-jnp.abs(lo) / b), jnp.exp(-up / b)
    p = jnp.where(lo >= 0, 0.5 * el * (-jnp.expm1(-1.0 / b)), 1 - 0.5 * (eu + el))
    return -jnp.log2(jnp.maximum(p, 1e-9))


def ste_round(x):
    return x + jax.lax.stop_gradient(jnp.round(x) - x)


def rd_terms(model, params, ys, zs, x, level, noise_key=None):
    """Rate (bits/image) and MSE (per image, 8-bit scale).  noise_key -> additive
    uniform noise for the rate (training); None -> straight-through rounding."""
    if noise_key is not None:
        k1, k2 = jax.random.split(noise_key)
        zr = zs + jax.random.uniform(k1, zs.shape, minval=-.5, maxval=.5)
    else:
        zr = ste_round(zs)
    zq = ste_round(zs)
    mu, sig, sz = model.apply(params, zq, level, method=Codec.prior)
    if noise_key is not None:
        yr = ys - mu + jax.random.uniform(k2, ys.shape, minval=-.5, maxval=.5)
    else:
        yr = ste_round(ys - mu)
    yq = ste_round(ys - mu) + mu
    xh = model.apply(params, yq, level, method=Codec.decode)   # in [0, 1] (input is x - 0.5)
    bits = laplace_bits(zr, sz).sum((1, 2, 3)) + laplace_bits(yr, sig).sum((1, 2, 3))
    mse = jnp.mean(jnp.square((xh - x) * 255.0), axis=(1, 2, 3))
    return bits, mse, xh


# ---------- float64 NumPy mirror of the entropy-model path (encoder == decoder) ----------
def _gelu_np(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _conv_np(x, p):
    k, b = np.asarray(p["kernel"], np.float64), np.asarray(p["bias"], np.float64)
    kh, kw = k.shape[:2]
    ph, pw = kh // 2, kw // 2
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    H, W = x.shape[1:3]
    out = np.zeros(x.shape[:3] + (k.shape[3],))
    for i in range(kh):
        for j in range(kw):
            out += xp[:, i:i + H, j:j + W, :] @ k[i, j]
    return out + b


def gains_np(p, level):
    L = p["log_gy"].shape[0]
    lo = int(np.clip(np.floor(level), 0, L - 2)); t = level - lo
    g = lambda a: np.exp((1 - t) * np.asarray(a[lo], np.float64) + t * np.asarray(a[lo + 1], np.float64))
    return g(p["log_gy"]), g(p["log_gz"])


def quantize_scale_np(s):
    """Scales are snapped to a shared log-spaced table (robust, identical both sides)."""
    s = np.clip(s, SCALE_MIN, SCALE_MAX)
    step = np.log(SCALE_MAX / SCALE_MIN) / (SCALE_LEVELS - 1)
    return SCALE_MIN * np.exp(np.round(np.log(s / SCALE_MIN) / step) * step)


def prior_np(params, zq, level):
    """zq: (B,4,4,Mz) integers -> mu (scaled), sigma (quantized) of y, sigma of z."""
    p = params["params"]; h = p["hs"]
    gy, gz = gains_np(p, level)
    x = _gelu_np(_conv_np(zq / gz, h["c0"]))
    x = _gelu_np(d2s(_conv_np(x, h["c1"]), xp=np))
    x = _gelu_np(_conv_np(x, h["c2"]))
    out = _conv_np(x, h["c3"])
    m = out.shape[-1] // 2
    mu, ls = out[..., :m], out[..., m:]
    sig = quantize_scale_np(np.exp(ls) * gy)
    sz = quantize_scale_np(np.exp(np.asarray(p["z_logscale"], np.float64)) * gz)
    return mu * gy, sig, sz
