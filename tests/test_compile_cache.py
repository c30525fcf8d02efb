"""The persistent compilation cache: where it lives, switching it off, and that it is used."""

import os

from inrcodec import compile_cache


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INRCODEC_CACHE", "off")
    assert compile_cache.cache_dir() is None
    assert compile_cache.enable_compilation_cache() is None
    monkeypatch.setenv("INRCODEC_CACHE", str(tmp_path / "here"))
    assert compile_cache.cache_dir() == tmp_path / "here"
    monkeypatch.delenv("INRCODEC_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_dir() == tmp_path / "xdg" / "inrcodec" / "xla"


def test_an_unwritable_folder_leaves_the_cache_off(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert compile_cache.enable_compilation_cache(blocker / "xla") is None


def test_a_fit_stores_its_compiled_steps(compilation_cache, crop):
    import inrcodec

    config = inrcodec.CoinConfig(fit=inrcodec.FitConfig(steps=25, batch=397))  # a program no other test compiles
    before = set(os.listdir(compilation_cache))
    inrcodec.encode(crop, bpp=0.5, config=config)  # a small network: a short compile
    assert len(set(os.listdir(compilation_cache)) - before) >= 1
