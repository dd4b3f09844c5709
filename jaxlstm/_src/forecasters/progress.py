"""The training progress bar of ``LSTMForecaster.fit(verbose=True)`` and the callback that feeds it.

The compiled training loop reports each finished epoch through one host callback
(``RELAY``); the bar draws on stderr with tqdm when it is installed, as a plain line
otherwise.
"""

from __future__ import annotations

import itertools
import sys
import threading
from typing import Any

import numpy as np


class ProgressBar:
    """Per-epoch progress on stderr.

    The bar starts at the first finished epoch: compiling the training loop takes seconds
    before any epoch runs, and counting it as the first epoch would make the rate and the
    time left wrong; until then the line says "compiling". When training ends before
    ``total`` epochs (early stopping, a loss threshold) the bar stays on screen with the
    epochs run and the reason.

    Args:
        total: the most epochs the run may take.
        desc: the label in front of the bar.
    """

    def __init__(self, total: int, desc: str = "training") -> None:
        self.total = total
        self.desc = desc
        self.epoch = 0
        self._text = ""
        self._bar: Any = None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self._tqdm = None
        else:
            self._tqdm = tqdm
        self._write(f"\r{desc}: compiling ...")

    def _write(self, text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    def __call__(self, epoch: Any, train_loss: Any, val_loss: Any) -> None:
        """Takes the callback of one finished epoch (1-based) and its losses."""
        epoch, train_loss, val_loss = int(epoch), float(train_loss), float(val_loss)
        if epoch <= self.epoch:  # callbacks are unordered: never move backwards
            return
        self._text = f"loss {train_loss:.3g}" + ("" if np.isnan(val_loss) else f", val {val_loss:.3g}")
        if self._tqdm is not None:
            if self._bar is None:
                # Created now, so that the rate is measured from the first finished epoch on.
                self._write("\r")
                self._bar = self._tqdm(total=self.total, initial=epoch, desc=self.desc, unit="epoch", leave=True)
            else:
                self._bar.update(epoch - self.epoch)
            self._bar.set_postfix_str(self._text)
        else:
            self._write(f"\r{self.desc} epoch {epoch}/{self.total}: {self._text}   ")
        self.epoch = epoch

    def close(self, epochs_run: int | None = None, stop_reason: str | None = None) -> None:
        """Ends the bar; a run that stopped before ``total`` epochs says where and why.

        Args:
            epochs_run: epochs the run completed (None: it failed).
            stop_reason: why it stopped, e.g. ``"early_stopping"``.
        """
        early = epochs_run is not None and epochs_run < self.total
        note = f"stopped at epoch {epochs_run} of {self.total}: {stop_reason}" if early else ""
        if self._bar is not None:
            if early:
                self._bar.total = epochs_run
                self._bar.n = epochs_run
                self._bar.set_postfix_str(f"{self._text}; {note}")
            self._bar.close()
        else:
            self._write(f"; {note}\n" if note and self.epoch else "\n")


class ProgressRelay:
    """The one progress callback the compiled loop knows; routes each fit's epochs by tag.

    A fresh closure per fit would be a new static argument and force a recompile, so every
    verbose fit passes this same object and its own traced tag. No lock is held while a
    fit runs, so fits in other threads (verbose or not) are never serialised by progress.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: dict[int, ProgressBar] = {}
        self._tags = itertools.count()

    def open(self, bar: ProgressBar) -> int:
        """Registers ``bar``; returns the tag its fit passes to the compiled loop."""
        with self._lock:
            tag = next(self._tags) % (2**31)
            self._sinks[tag] = bar
        return tag

    def close(self, tag: int) -> None:
        """Forgets the bar of ``tag``."""
        with self._lock:
            self._sinks.pop(tag, None)

    def __call__(self, tag: Any, epoch: Any, train_loss: Any, val_loss: Any) -> None:
        sink = self._sinks.get(int(tag))
        if sink is not None:
            sink(epoch, train_loss, val_loss)


#: The process-wide relay every verbose fit passes as its callback.
RELAY = ProgressRelay()


class Shown:
    """A fit's progress bar, registered on ``RELAY`` for a ``with`` block; no bar when ``total`` is None.

    ``tag`` is what the fit passes to the compiled loop (None: no bar); ``finish`` records
    how the fit ended, which the bar prints when the block exits (a bare close on an error).
    """

    def __init__(self, total: int | None) -> None:
        self.bar = None if total is None else ProgressBar(total)
        self.tag: int | None = None
        self._end: tuple[int, str] | None = None

    def __enter__(self) -> Shown:
        if self.bar is not None:
            self.tag = RELAY.open(self.bar)
        return self

    def finish(self, epochs_run: int, stop_reason: str) -> None:
        """Records the epochs run and why the fit stopped, for the bar's last line."""
        self._end = (epochs_run, stop_reason)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None and self.tag is not None:
            RELAY.close(self.tag)
            self.bar.close(*self._end) if self._end is not None else self.bar.close()
