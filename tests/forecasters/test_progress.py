"""Tests for the training progress bar: compilation is no epoch, early stopping leaves a note."""

from __future__ import annotations

import typing

import numpy as np
import pytest

from jaxlstm._src.forecasters import progress


class FakeTqdm:
    """Records what the progress bar asks of tqdm."""

    made: typing.ClassVar[list] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.total = kwargs["total"]
        self.n = kwargs.get("initial", 0)
        self.postfix = ""
        self.closed = False
        FakeTqdm.made.append(self)

    def update(self, n):
        self.n += n

    def set_postfix_str(self, text):
        self.postfix = text

    def close(self):
        self.closed = True


@pytest.fixture()
def fake_tqdm():
    FakeTqdm.made = []
    return FakeTqdm


def bar_with(tqdm, total):
    bar = progress.ProgressBar(total)
    bar._tqdm = tqdm
    return bar


def test_the_bar_starts_after_compilation(fake_tqdm, capsys):
    bar = bar_with(fake_tqdm, 100)
    assert "training: compiling" in capsys.readouterr().err
    assert fake_tqdm.made == []  # nothing timed while the loop compiles
    bar(1, 0.5, 0.4)
    (made,) = fake_tqdm.made
    assert made.kwargs["initial"] == 1 and made.kwargs["total"] == 100 and made.kwargs["leave"] is True
    bar(3, 0.3, np.nan)
    bar(2, 0.9, 0.9)  # late, out of order: ignored
    assert made.n == 3 and made.postfix == "loss 0.3"


def test_early_stopping_leaves_the_bar_with_where_and_why(fake_tqdm):
    bar = bar_with(fake_tqdm, 100)
    for epoch in range(1, 13):
        bar(epoch, 1.0 / epoch, 0.5)
    bar.close(12, "early_stopping")
    (made,) = fake_tqdm.made
    assert made.closed and made.total == made.n == 12
    assert made.postfix.endswith("stopped at epoch 12 of 100: early_stopping")


def test_a_full_run_keeps_its_total(fake_tqdm):
    bar = bar_with(fake_tqdm, 3)
    for epoch in (1, 2, 3):
        bar(epoch, 0.1, 0.1)
    bar.close(3, "max_epochs")
    assert fake_tqdm.made[0].total == 3 and "stopped" not in fake_tqdm.made[0].postfix


def test_without_tqdm_a_plain_line(capsys):
    bar = bar_with(None, 50)
    bar(1, 0.25, 0.5)
    bar(2, 0.125, np.nan)
    bar.close(2, "loss_threshold")
    err = capsys.readouterr().err
    assert "training epoch 2/50: loss 0.125" in err
    assert err.endswith("; stopped at epoch 2 of 50: loss_threshold\n")


def test_a_failed_run_ends_the_line(capsys):
    bar = bar_with(None, 50)
    bar.close()
    assert capsys.readouterr().err.endswith("compiling ...\n")


def test_the_relay_routes_by_tag():
    calls = []

    class Sink:
        def __call__(self, *args):
            calls.append(args)

    relay = progress.ProgressRelay()
    tag = relay.open(Sink())
    relay(np.int32(tag), 1, 0.5, 0.5)
    relay(tag + 1, 1, 0.5, 0.5)  # no such fit: dropped
    relay.close(tag)
    relay(tag, 2, 0.5, 0.5)
    assert calls == [(1, 0.5, 0.5)]
