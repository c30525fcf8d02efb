"""Progress: bars on a terminal, a few plain lines in a log, nothing when quiet."""

from inrcodec import progress


def test_a_log_gets_plain_lines_not_redraws(capsys, monkeypatch):
    monkeypatch.setattr(progress, "LOG_SECONDS", 0.0)  # a line at every update
    with progress.progress(100, "fit", unit="step", quiet=False) as bar:  # stderr here is not a terminal
        assert isinstance(bar, progress.LogLines)
        bar.update(25)
        bar.set_postfix(psnr="24.10")
        bar.update(75)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert lines[0].startswith("fit: 25/100 steps (25%), ")
    assert lines[-1].startswith("fit: 100/100 steps (100%), ") and lines[-1].endswith("psnr=24.10")


def test_work_shorter_than_the_interval_writes_only_its_closing_line(capsys):
    with progress.progress(1000, "fuzz", unit="case", quiet=False) as bar:
        for _ in range(1000):
            bar.update()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fuzz: 1000/1000 cases (100%), ")


def test_quiet_writes_nothing(capsys):
    with progress.progress(10, "fit", unit="step", quiet=True) as bar:
        bar.update(10)
    assert capsys.readouterr().err == ""
