"""Packs: many images of one size in one file under one header, each image's share of the bytes
counted: round trips, the cap, the overhead saved, refusals of corrupt packs, and the command line."""

import math

import numpy as np
import pytest
from PIL import Image

from inrcodec import bitstream, cli, datasets, methods, packs
from inrcodec.errors import InrError
from inrcodec.eval.metrics import psnr
from inrcodec.methods.coin import CoinConfig
from inrcodec.methods.pyramid import PyramidConfig
from inrcodec.modalities import decode_any, expected_output, image, of_file
from inrcodec.networks.fit import FitConfig

SHORT = PyramidConfig(steps=20)  # as the fuzz seeds'
SHORT_COIN = CoinConfig(fit=FitConfig(steps=20, batch=256))


@pytest.fixture(scope="module")
def images(sample) -> np.ndarray:
    """Five (24, 32, 3) crops of the sample image."""
    return np.stack([sample[200 + 8 * i:224 + 8 * i, 300 + 16 * i:332 + 16 * i] for i in range(5)])


@pytest.fixture(scope="module")
def pyramid_pack(images) -> bytes:
    return image.encode_pack(images, 2.0, "pyramid", SHORT)


def share(bpp: float, pixels: np.ndarray) -> int:
    """Each image's share of a pack's bytes: floor(bpp*H*W/8)."""
    return math.floor(bpp * pixels.shape[1] * pixels.shape[2] / 8)


def as_single_file(pack: packs.Pack, index: int) -> bytes:
    """The file of one image holding the pack's body `index`: a body is exactly a method's body."""
    return bitstream.pack(image._head((*pack.extent, pack.channels), pack.method) + pack.bodies[index])


def check_round_trip(data: bytes, pixels: np.ndarray, method: str, bpp: float, floor_db: float) -> None:
    assert len(data) <= len(pixels) * share(bpp, pixels)
    pack = image.read_header(data)
    assert (pack.method, pack.count, pack.extent, pack.channels) == (method, len(pixels), pixels.shape[1:3],
                                                                     pixels.shape[3])
    decoded = image.decode_pack(data)
    assert decoded.shape == pixels.shape and decoded.dtype == np.uint8
    for index in range(len(pixels)):
        np.testing.assert_array_equal(decoded[index], image.decode(as_single_file(pack, index)))
        assert psnr(pixels[index], decoded[index]) > floor_db


def test_a_pack_round_trips_by_pyramid(pyramid_pack, images):
    check_round_trip(pyramid_pack, images, "pyramid", 2.0, 20)


def test_a_pack_round_trips_by_coin(images):
    gray = images[..., :1].copy()
    check_round_trip(image.encode_pack(gray, 3.0, "coin", SHORT_COIN), gray, "coin", 3.0, 12)


def test_each_signal_gets_the_body_its_share_leaves_and_no_more():
    for count in (1, 2, 5, 100, 1000):
        for signal_share in (12, 60, 127, 128, 129, 300, 20000):
            head = image._head((32, 32, 3), "pyramid")
            fixed = bitstream.OVERHEAD + len(bitstream.varints(bitstream.PACK, count)) + len(head)
            try:
                cap = packs.signal_cap(signal_share, head, count)
            except InrError:
                assert signal_share - math.ceil(fixed / count) < 2
                continue
            worst = fixed + count * (cap + len(bitstream.varints(cap)))  # every body at its cap
            assert worst <= count * signal_share
            assert cap + 1 + len(bitstream.varints(cap + 1)) > signal_share - math.ceil(fixed / count)


def test_the_cap_holds_at_a_tight_rate(images):
    data = image.encode_pack(images, 0.5, "pyramid", SHORT)
    assert len(data) <= len(images) * share(0.5, images)
    assert image.decode_pack(data).shape == images.shape


def test_a_pack_spends_fewer_bytes_an_image_on_headers_than_single_files(pyramid_pack, images):
    pack = image.read_header(pyramid_pack)
    head = image._head(images.shape[1:], "pyramid")
    singles = [image.encode(pixels, 2.0, "pyramid", SHORT) for pixels in images]
    single_overhead = {len(data) - len(methods.Budget(head, 0).body(data)) for data in singles}  # container, head
    assert single_overhead == {bitstream.OVERHEAD + len(head)}
    pack_overhead = (len(pyramid_pack) - sum(map(len, pack.bodies))) / pack.count  # the same and the lengths
    assert pack_overhead < (bitstream.OVERHEAD + len(head)) / 2, pack_overhead
    cap = packs.signal_cap(share(2.0, images), head, len(images))
    assert cap > share(2.0, images) - bitstream.OVERHEAD - len(head)  # the room saved goes to the bodies
    assert max(map(len, pack.bodies)) <= cap


def test_decode_any_and_the_fuzzer_see_a_pack_as_images(pyramid_pack, images):
    assert of_file(pyramid_pack).name == "image"
    assert expected_output(pyramid_pack) == (images.shape, np.uint8, None)
    np.testing.assert_array_equal(decode_any(pyramid_pack), image.decode_pack(pyramid_pack))
    from inrcodec.eval import fuzz

    fields = fuzz.header_fields(pyramid_pack)
    assert fields[0] == (0, 1, "varint") and len(fields) > 6 + len(images)  # the bodies' own fields too


def craft(first: int, head: bytes, count: int, lengths: list[int], bodies: list[bytes]) -> bytes:
    """A pack as written, with any count and lengths."""
    return bitstream.pack(bitstream.varints(first) + head + bitstream.varints(count, *lengths) + b"".join(bodies))


def test_corrupt_packs_are_refused(pyramid_pack, images):
    pack = image.read_header(pyramid_pack)
    head = image._head(images.shape[1:], "pyramid")
    lengths = [len(b) for b in pack.bodies[:-1]]
    assert craft(bitstream.PACK, head, pack.count, lengths, pack.bodies) == pyramid_pack
    broken = {
        "truncated": pyramid_pack[:-9],
        "last body cut": craft(bitstream.PACK, head, pack.count, lengths, [*pack.bodies[:-1], pack.bodies[-1][:3]]),
        "length past the end": craft(bitstream.PACK, head, pack.count, [*lengths[:-1], 10 * len(pyramid_pack)],
                                     pack.bodies),
        "count too large": craft(bitstream.PACK, head, 1 << 30, lengths, pack.bodies),
        "count larger than the bodies": craft(bitstream.PACK, head, pack.count + 1, lengths + [1], pack.bodies),
        "no signals": craft(bitstream.PACK, head, 0, [], []),
        "a pack of audio": craft(bitstream.PACK, bitstream.varints(bitstream.AUDIO, 3, 8000, 100, 1, 1), 1, [],
                                 pack.bodies[:1]),
        "a pack in a pack": craft(bitstream.PACK, bitstream.varints(bitstream.PACK) + head, 1, [], pack.bodies[:1]),
    }
    for name, data in broken.items():
        with pytest.raises(InrError):
            decode_any(data)
        assert expected_output(data) is None, name
    with pytest.raises(InrError, match="decode_pack"):
        image.decode(pyramid_pack)
    with pytest.raises(InrError, match="not a pack"):
        image.decode_pack(as_single_file(pack, 0))
    with pytest.raises(InrError, match="too few"):
        image.encode_pack(images, 0.02, "pyramid", SHORT)


def test_a_dataset_becomes_a_pack_and_back(images, tmp_path):
    np.savez(tmp_path / "stack.npz", test_batch_x=images[:3])
    path, = datasets.encode_dataset(str(tmp_path / "stack.npz"), tmp_path / "x.inrs", bpp=2.0, method="pyramid",
                                    config=SHORT)
    written = datasets.decode_dataset(path, tmp_path / "out")
    assert [p.name for p in written] == ["x-00000.png", "x-00001.png", "x-00002.png"]
    pairs = list(datasets.decode_dataset(path))
    np.testing.assert_array_equal(np.stack([pixels for _, pixels in pairs]), image.decode_pack(path.read_bytes()))
    for file, (_, pixels) in zip(written, pairs):
        np.testing.assert_array_equal(image.read_image(file), pixels)


def test_the_command_line_packs_an_npz_and_decodes_it_to_a_folder(images, tmp_path, capsys):
    np.savez(tmp_path / "cifar.npz", test_batch_x=images)
    target = str(tmp_path / "cifar.inrs")
    assert cli.main(["encode", str(tmp_path / "cifar.npz"), "-o", target, "--bpp", "1", "--steps", "20",
                     "--limit", "4"]) == 0
    out = capsys.readouterr().out
    assert "4 images" in out and "mean PSNR" in out
    data = (tmp_path / "cifar.inrs").read_bytes()
    assert len(data) <= 4 * share(1.0, images) and image.read_header(data).count == 4
    assert cli.main(["info", target]) == 0
    out = capsys.readouterr().out
    assert "a pack of 4 images" in out and "32x24" in out
    assert cli.main(["decode", target, "-o", str(tmp_path / "folder")]) == 0
    names = sorted(p.name for p in (tmp_path / "folder").iterdir())
    assert names == [f"cifar-{i:05d}.png" for i in range(4)]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "folder" / names[2])), image.decode_pack(data)[2])


def test_the_command_line_refuses_what_cannot_be_a_pack(images, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(images[0]).save(folder / "a.png")
    Image.fromarray(images[1, :20]).save(folder / "b.png")
    encode = ["encode", str(folder), "-o", str(tmp_path / "x.inrs"), "--steps", "20"]
    for args in ([*encode, "--bpp", "1"], [*encode, "--kbps", "8"]):
        assert cli.main(args) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("inrcodec: error:")
    assert not (tmp_path / "x.inrs").exists()
