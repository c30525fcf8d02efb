"""The package's structure: no import cycles, and decoding a `pyramid`, `network` or `hyper` file or
asking for help starts no JAX; every seed file decodes to the bytes it decoded to before the package was
restructured."""

import ast
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from inrcodec import packs
from inrcodec.modalities import audio, decode_any, image, of_file, shape

PACKAGE = Path(__file__).parent.parent / "inrcodec"
SEEDS = Path(__file__).parent / "fuzz_seeds"
DECODED = Path(__file__).parent / "fuzz_seeds_decoded.json"  # digests of the seeds' decodes
HEAVY = ("jax", "optax", "flax", "dask", "igl", "skimage", "trimesh")  # what a pyramid or hyper decode must not load


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at any depth of its code (lazy imports count)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = base[:len(base) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module
                for alias in node.names:  # `from . import x` names a module; `from .m import f` the module m
                    edges.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
            elif isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "inrcodec.methods.pyramid" in graph and "inrcodec.modalities.image" in graph  # the walk saw the package
    state = {}

    def visit(node, path):
        state[node] = "open"
        for child in sorted(graph[node]):
            assert state.get(child) != "open", f"import cycle: {' -> '.join(path + [child])}"
            if child not in state:
                visit(child, path + [child])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def loaded_modules(code: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter has loaded after running `code`."""
    probe = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    return set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                              timeout=120).stdout.split())


def test_a_pyramid_network_or_hyper_decode_and_help_load_no_jax(tmp_path):
    for name in ("pyramid-rgb", "network-rgb", "hyper-rgb"):
        decoded = loaded_modules(f"from inrcodec.cli import main\nmain(['decode', {str(SEEDS / (name + '.inr'))!r}, "
                                 f"'-o', {str(tmp_path / (name + '.png'))!r}])")
        assert (tmp_path / f"{name}.png").exists() and not decoded & set(HEAVY), (name, decoded & set(HEAVY))
    helped = loaded_modules("from inrcodec.cli import build_parser\nbuild_parser().format_help()")
    assert not helped & {*HEAVY, "numpy"}, helped & {*HEAVY, "numpy"}


def digest(array) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def decoded_digests(data: bytes) -> dict[str, str]:
    """Digests of a file and of its decodes: whole, and an image's at scale 2 and over a crop, a clip's
    at another rate and span, a shape meshed and queried at points (a pack's whole only)."""
    found = {"file": hashlib.sha256(data).hexdigest(), "decode": digest(decode_any(data))}
    kind = of_file(data).name
    if packs.is_pack(data):
        pass
    elif kind == "image":
        height, width = image.read_header(data).extent
        found["scale2"] = digest(image.decode(data, scale=2))
        found["crop"] = digest(image.decode(data, crop=(1, 2, width - 3, height - 5),
                                            scale=1.5 if (width - 3) * 1.5 % 1 == 0 else 1))
    elif kind == "audio":
        found["rate"] = digest(audio.decode_audio(data, rate=11025, start=0.05, duration=0.1)[0])
    else:
        vertices, faces = shape.decode_mesh(data, 24)
        found["mesh"] = digest(vertices) + digest(faces)
        lattice = shape.read_header(data).lattice
        points = np.random.default_rng(0).uniform(-1, 1, (50, 3))
        found["sdf"] = digest(shape.evaluate_sdf(data, np.array(lattice.centre)
                                                 + points * lattice.spacing * np.array(lattice.extent) / 2))
    return found


def test_every_seed_decodes_as_before_the_restructure():
    """Digests recorded with the decoder of 2c7f4bf (seeds that came later: when they came, packs whole
    only; `network`'s when its base was last trained)."""
    recorded = json.loads(DECODED.read_text())
    assert set(recorded) == {p.stem for p in SEEDS.glob("*.inr")}
    for name, expected in recorded.items():
        assert decoded_digests((SEEDS / f"{name}.inr").read_bytes()) == expected, name


if __name__ == "__main__":  # python tests/test_structure.py NAME ...: make seeds NAME anew and record their digests
    from inrcodec.eval import fuzz

    recorded = json.loads(DECODED.read_text())
    for name in sys.argv[1:]:
        data = fuzz.seed_makers()[name]()
        (SEEDS / f"{name}.inr").write_bytes(data)
        recorded[name] = dict(sorted(decoded_digests(data).items()))
    DECODED.write_text(json.dumps(recorded, indent=1) + "\n")
