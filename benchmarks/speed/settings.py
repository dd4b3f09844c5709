"""Sizes and repeat counts of a run: the full run (``Settings()``) and the ``--quick`` smoke run."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Settings:
    """Sizes and repeat counts of one run (the full run, or ``--quick`` for smoke tests)."""

    quick: bool = False
    candles: int = 500
    window: int = 20
    hidden: int = 32
    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3
    train_repeats: int = 5
    torch_repeats: int = 3
    batch1_epochs: int = 5
    batch1_repeats: int = 3
    predict_steps: tuple[int, ...] = (1, 24, 168)
    predict_repeats: int = 7
    multi_symbols: int = 10
    multi_steps: int = 168
    cold_repeats: int = 3
    scale_symbols: tuple[int, ...] = (1, 10, 100, 1000)
    scale_symbol_epochs: tuple[int, ...] = (10, 10, 3, 1)
    sweep_symbols: int = 120
    sweep_epochs: int = 2
    sweep_block_sizes: tuple[int, ...] = (1, 2, 4, 6, 10, 20, 60)
    scale_hidden: tuple[int, ...] = (32, 64, 128, 256)
    scale_sequence: tuple[int, ...] = (20, 50, 100, 200)
    scale_windows: int = 480
    scale_epochs: int = 10
    scale_repeats: int = 3
    torch_scale_epochs: int = 3
    torch_scale_repeats: int = 2
    profile_epochs: int = 20
    profile_repeats: int = 5
    population_sizes: tuple[int, ...] = (8, 32, 128)
    population_epochs: int = 20
    population_sequential_fits: int = 5
    population_repeats: int = 3
    arch_epochs: int = 20
    arch_repeats: int = 3
    # Section 9: series fitted across 1 and 2 processes (the size; a run on a busy
    # machine may pass fewer to benchmarks.speed.processes and say so).
    processes_series: int = 10_000
    processes_prices: int = 500
    processes_epochs: int = 10
    processes_counts: tuple[int, ...] = (1, 2)
    # None leaves PyTorch's default thread count (the measurement the README reports).
    torch_threads: int | None = None
    # TrainConfig.restore_best of the functional runs (the seed configuration's default).
    restore_best: bool = True


# A smoke run: the smallest sizes that still go through every code path. Compiling is
# what takes the time here, so the settings are chosen to share compiled programs: with
# batch size 1, one epoch and restore_best=False (as LSTMForecaster(early_stopping=False)
# uses), the seed run, the wrapper's fit, the batch-1 run and the single-model scaling
# row are one program, compiled once.
QUICK = Settings(
    quick=True,
    candles=60,
    window=10,
    hidden=8,
    epochs=1,
    batch_size=1,
    train_repeats=1,
    torch_repeats=1,
    batch1_epochs=1,
    batch1_repeats=1,
    predict_steps=(1, 24, 168),
    predict_repeats=2,
    multi_symbols=10,
    multi_steps=168,
    cold_repeats=1,
    scale_symbols=(1, 2),
    scale_symbol_epochs=(1, 1),
    sweep_symbols=4,
    sweep_epochs=1,
    sweep_block_sizes=(1, 2),
    scale_hidden=(8,),
    scale_sequence=(10,),
    scale_windows=50,
    scale_epochs=1,
    scale_repeats=1,
    torch_scale_epochs=1,
    torch_scale_repeats=1,
    profile_epochs=1,
    profile_repeats=1,
    population_sizes=(2, 4),
    population_epochs=1,
    population_sequential_fits=1,
    population_repeats=1,
    arch_epochs=1,
    arch_repeats=1,
    processes_series=4,
    processes_prices=120,
    processes_epochs=1,
    # On a busy machine PyTorch's default OpenMP threads stall waiting for a core, which
    # can make a smoke run take minutes; one thread keeps it short.
    torch_threads=1,
    restore_best=False,
)
