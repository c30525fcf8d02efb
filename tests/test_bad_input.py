"""The README's table of awkward inputs, row by row: what each gives on the command line.

An error is one line `inrcodec: error: ...` on stderr, exit status 1, and no output file. Rows
that encode show the conversion rule at work. A row added to the README's table needs a case here.
"""

import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import inrcodec
from inrcodec import cli

README = Path(__file__).resolve().parents[1] / "README.md"
# the crop fixture's shape, which test_pyramid, test_effort and test_cli code too: one compiled context fit
RGB = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)


def _png_declaring(path: Path, side: int) -> None:
    """A tiny PNG whose header declares side x side RGB pixels."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(bytes(100))) + chunk(b"IEND", b""))


def _inputs(folder: Path, inr: bytes) -> None:
    """Every input file the cases name, in `folder`; `inr` is a valid .inr file."""
    Image.fromarray(RGB).save(folder / "ok.png")
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("hello, not an image\n")
    (folder / "IN.png").write_text("INSTALL notes, not an image\n")
    (folder / "truncated.png").write_bytes((folder / "ok.png").read_bytes()[:300])
    Image.fromarray(RGB[:1, :1]).save(folder / "one.png")
    Image.fromarray((RGB[..., 0].astype(np.uint16) * 257)).save(folder / "sixteen.png")
    Image.fromarray(RGB).convert("P").save(folder / "palette.png")
    Image.fromarray(np.dstack([RGB, RGB[..., :1]])).save(folder / "rgba.png")
    Image.fromarray(RGB).convert("CMYK").save(folder / "cmyk.jpg")
    frames = [Image.fromarray(np.roll(RGB, k, axis=1)) for k in range(3)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100)
    _png_declaring(folder / "bomb.png", 20000)
    (folder / "folder").mkdir()
    (folder / "ok.inr").write_bytes(inr)
    (folder / "short.inr").write_bytes((folder / "ok.inr").read_bytes()[:-9])


def _unwritable(folder: Path) -> str:
    if os.geteuid() == 0:  # root writes past permission bits; sysfs refuses even root
        return "/sys/out.inr"
    locked = folder / "locked"
    locked.mkdir(mode=0o555)
    return str(locked / "out.inr")


ENCODE = ["encode", "-q", "--steps", "5"]
# README row -> (arguments, with {d} the inputs' folder; what stderr says, or the channels decoded)
CASES = {
    "an empty file": (ENCODE + ["{d}/empty.png", "-o", "{d}/out.inr", "--bpp", "1"], "empty file"),
    "text named .png": (ENCODE + ["{d}/text.png", "-o", "{d}/out.inr", "--bpp", "1"], "not a readable image"),
    "text starting like an .inr file": (ENCODE + ["{d}/IN.png", "-o", "{d}/out.inr", "--bpp", "1"],
                                        "not a readable image"),
    "a truncated PNG": (ENCODE + ["{d}/truncated.png", "-o", "{d}/out.inr", "--bpp", "1"], "truncated"),
    "a 1x1 image": (ENCODE + ["{d}/one.png", "-o", "{d}/out.inr", "--bpp", "1"], "too small"),
    "a 16-bit PNG": (ENCODE + ["{d}/sixteen.png", "-o", "{d}/out.inr", "--bpp", "2"], 1),
    "a palette PNG": (ENCODE + ["{d}/palette.png", "-o", "{d}/out.inr", "--bpp", "2"], 3),
    "an RGBA PNG": (ENCODE + ["{d}/rgba.png", "-o", "{d}/out.inr", "--bpp", "2"], 3),
    "a CMYK JPEG": (ENCODE + ["{d}/cmyk.jpg", "-o", "{d}/out.inr", "--bpp", "2"], 3),
    "an animated GIF": (ENCODE + ["{d}/animated.gif", "-o", "{d}/out.inr", "--bpp", "1"], "animation of 3 frames"),
    "a PNG declaring 20000x20000": (ENCODE + ["{d}/bomb.png", "-o", "{d}/out.inr", "--bpp", "1"], "too large"),
    "a folder with no images as input": (ENCODE + ["{d}/folder", "-o", "{d}/out", "--bpp", "1"], "no image, audio or mesh files found"),
    "a missing input": (ENCODE + ["{d}/missing.png", "-o", "{d}/out.inr", "--bpp", "1"], "no such file"),
    "a missing output folder": (ENCODE + ["{d}/ok.png", "-o", "{d}/no/such/out.inr", "--bpp", "1"], "does not exist"),
    "an unwritable output folder": (ENCODE + ["{d}/ok.png", "-o", "{unwritable}", "--bpp", "1"], "not writable"),
    "a directory as output": (ENCODE + ["{d}/ok.png", "-o", "{d}/folder", "--bpp", "1"], "is a directory"),
    "--bpp 0": (ENCODE + ["{d}/ok.png", "-o", "{d}/out.inr", "--bpp", "0"], "bpp must be"),
    "--bpp -1": (ENCODE + ["{d}/ok.png", "-o", "{d}/out.inr", "--bpp=-1"], "bpp must be"),
    "--bpp nan": (ENCODE + ["{d}/ok.png", "-o", "{d}/out.inr", "--bpp", "nan"], "bpp must be"),
    "--bpp inf": (ENCODE + ["{d}/ok.png", "-o", "{d}/out.inr", "--bpp", "inf"], "bpp must be"),
    "--bpp 1e9": (ENCODE + ["{d}/ok.png", "-o", "{d}/out.inr", "--bpp", "1e9"], "bpp must be"),
    "an .inr file given to encode": (ENCODE + ["{d}/ok.inr", "-o", "{d}/out.inr", "--bpp", "1"], "inrcodec decode"),
    "--scale 0": (["decode", "{d}/ok.inr", "-o", "{d}/out.png", "--scale", "0"], "scale"),
    "--scale 1e6": (["decode", "{d}/ok.inr", "-o", "{d}/out.png", "--scale", "1e6"], "scale"),
    "a crop outside the image": (["decode", "{d}/ok.inr", "-o", "{d}/out.png", "--crop", "54", "0", "5", "5"],
                                 "not inside"),
    "an image given to decode": (["decode", "{d}/ok.png", "-o", "{d}/out.png"], "not an inrcodec file"),
    "a truncated .inr": (["decode", "{d}/short.inr", "-o", "{d}/out.png"], "corrupt"),
    "an unknown output extension": (["decode", "{d}/ok.inr", "-o", "{d}/out.xyz"], "unknown image extension"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, small_file) -> Path:
    folder = tmp_path_factory.mktemp("bad")
    _inputs(folder, small_file)
    return folder


@pytest.mark.parametrize("row", list(CASES))
def test_each_awkward_input_gives_what_the_readme_says(row, inputs, capsys):
    arguments, expected = CASES[row]
    unwritable = _unwritable(inputs) if "{unwritable}" in arguments else ""
    arguments = [a.format(d=inputs, unwritable=unwritable) for a in arguments]
    output = arguments[arguments.index("-o") + 1]
    before = set(os.listdir(inputs))
    status = cli.main(arguments)
    err = capsys.readouterr().err
    if isinstance(expected, str):
        assert status == 1
        assert re.fullmatch(r"inrcodec: error: [^\n]+\n", err), err
        assert expected in err
        assert set(os.listdir(inputs)) == before  # nothing written, no temporary left
    else:
        assert status == 0 and err == ""
        data = Path(output).read_bytes()
        assert inrcodec.read_header(data).channels == expected
        assert len(data) * 8 <= 2 * RGB.shape[0] * RGB.shape[1]
        os.unlink(output)


def test_the_readme_table_lists_exactly_these_cases():
    table = README.read_text().split("<!-- bad-input table -->")[1].split("\n\n")[0]
    rows = re.findall(r"^\| ([^|]+?) \|", table, re.MULTILINE)
    assert rows[1:] == list(CASES)  # after the header row


def test_the_python_api_refuses_malformed_arguments_with_its_own_error(inputs):
    data = (inputs / "ok.inr").read_bytes()
    calls = [
        lambda: inrcodec.decode("not bytes"),
        lambda: inrcodec.decode(data, scale="2"),
        lambda: inrcodec.decode(data, scale=None),
        lambda: inrcodec.decode(data, crop=(1, 2, 3)),
        lambda: inrcodec.decode(data, crop="abcd"),
        lambda: inrcodec.encode(RGB.astype(np.float32), bpp=1.0),
        lambda: inrcodec.encode(RGB, bpp=None),
        lambda: inrcodec.encode_batch(RGB[None, :0], 1.0),
        lambda: inrcodec.encode_batch(RGB[None][:0], 1.0),  # no images
    ]
    for call in calls:
        with pytest.raises(inrcodec.InrError):
            call()
    assert inrcodec.decode(data, scale=np.float32(2), crop=np.array([0, 0, 4, 4])).shape == (8, 8, 3)
