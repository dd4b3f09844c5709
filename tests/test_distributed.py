"""Many series across real processes on jax.distributed (``jaxlstm fit-many``, ``jaxlstm.distributed``).

Two processes on localhost join through JAX's coordination service and the CPU "gloo"
collectives; each fits its share of the series and saves its models itself. Checked
against one process (same params), and with a process killed mid-run (the other stops
within the heartbeat timeout, one line says what happened, the folder holds complete
models only, a rerun fits the rest and keeps the fresh ones).
"""

from __future__ import annotations

import functools
import gc
import io
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import time
import weakref

import jax
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxlstm as jl
from jaxlstm._src import distributed, processes
from jaxlstm._src.forecasters import global_processes
from jaxlstm._src.io import locking, long_files, model_files

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Tiny models and few epochs: the tests are about processes, not about training.
MODEL = ["--epochs", "4", "--hidden-size", "8", "--sequence-length", "8", "--seed", "3"]
SETTINGS = {"epochs": 4, "hidden_size": 8, "sequence_length": 8, "seed": 3}


def _env() -> dict[str, str]:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAXLSTM_COMPILATION_CACHE="0", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    for name in list(env):  # a test run inside a SLURM or MPI job must not join that job
        if name.startswith(("SLURM_", "OMPI_", "PMI_", "JAX_COORDINATOR")):
            del env[name]
    return env


def _long_csv(path: pathlib.Path, count: int, length: int = 120, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(count):
        n = length + 7 * i  # unequal lengths: the processes' shares differ in shape
        prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
        stamps = pd.date_range("2024-01-01", periods=n, freq="h")
        parts.append(pd.DataFrame({"unique_id": f"S{i:02d}", "ds": stamps, "y": prices}))
    frame = pd.concat(parts).sample(frac=1.0, random_state=seed)  # rows in any order
    frame.to_csv(path, index=False)
    return sorted(frame["unique_id"].unique())


@functools.cache
def _collectives_problem() -> str | None:
    """Why two CPU processes cannot join and all-gather here (None when they can)."""
    code = textwrap.dedent(
        """
        import sys, jax, numpy as np
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(sys.argv[1], 2, int(sys.argv[2]), initialization_timeout=60)
        from jax.experimental import multihost_utils
        print(int(np.asarray(multihost_utils.process_allgather(np.array([jax.process_index()]))).sum()))
        """
    )
    port = distributed_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, f"127.0.0.1:{port}", str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for i in range(2)
    ]
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            return "two CPU processes did not join through jax.distributed within 120 s"
        # gloo prints its connection notices on stdout: the answer is the last line.
        if proc.returncode != 0 or out.strip().splitlines()[-1:] != ["1"]:
            last = (err.strip().splitlines() or [f"exit code {proc.returncode}, output {out[-200:]!r}"])[-1]
            return f"CPU collectives (gloo) across processes are unavailable: {last[:200]}"
    return None


def distributed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def collectives() -> None:
    problem = _collectives_problem()
    if problem is not None:
        pytest.skip(problem)


def fit_many_command(data: pathlib.Path, models: pathlib.Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "jaxlstm.cli",
        "fit-many",
        "--data",
        str(data),
        "--models",
        str(models),
        *MODEL,
        *extra,
    ]


def params_of(folder: pathlib.Path) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves(jl.LSTMForecaster.load(folder).params_)]


def test_share_splits_sorted_ids_into_disjoint_parts_that_cover_them():
    ids = [f"S{i:02d}" for i in range(11)]
    parts = [long_files.share(ids, i, 3) for i in range(3)]
    assert sorted(s for part in parts for s in part) == ids
    assert [len(p) for p in parts] == [4, 4, 3]
    with pytest.raises(ValueError, match="index must be below count=3, got 3"):
        long_files.share(ids, 3, 3)


@settings(max_examples=200, deadline=None)
@given(
    cores=st.lists(st.integers(0, 255), min_size=1, max_size=64, unique=True),
    count=st.integers(1, 70),
)
def test_core_shares_bind_each_process_to_its_own_contiguous_cores(cores, count):
    shares = processes.core_shares(count, cores)
    if count == 1 or count > len(cores):
        assert shares is None
        return
    assert shares is not None and len(shares) == count
    ordered = sorted(cores)
    # Disjoint, covering, contiguous in sorted order, sizes that differ by at most one
    # with the larger ones first.
    assert [c for share in shares for c in sorted(share)] == ordered
    sizes = [len(share) for share in shares]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_core_shares_of_this_process_and_bad_counts():
    assert processes.core_shares(2, [0, 1, 2, 3, 4]) == [frozenset({0, 1, 2}), frozenset({3, 4})]
    assert processes.core_shares(2, [7, 3]) == [frozenset({3}), frozenset({7})]
    mine = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    assert processes.core_shares(2) == (None if mine is None else processes.core_shares(2, mine))
    with pytest.raises(ValueError, match="count"):
        processes.core_shares(0, [0, 1])


@pytest.mark.slow
def test_fit_many_in_one_process_saves_every_model_and_skips_fresh_ones(tmp_path):
    # No cluster and no coordinator: the process runs alone, without jax.distributed.
    data = {f"S{i}": 100 * np.exp(np.cumsum(np.random.default_rng(i).normal(0, 0.01, 90))) for i in range(3)}
    first = distributed.fit_many(data, tmp_path, settings=SETTINGS, chunk_size=2)
    assert first.group == distributed.ProcessGroup(0, 1, 1)
    assert (first.total_fitted, first.total_skipped, first.total_series) == (3, 0, 3)
    alone = jl.LSTMForecaster(symbol="S1", **SETTINGS).fit(data["S1"])
    saved = params_of(tmp_path / "S1")
    for a, b in zip(saved, [np.asarray(x) for x in jax.tree.leaves(alone.params_)]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    data["S2"] = data["S2"][:-1]  # other data: that model is no longer fresh
    again = distributed.fit_many(data, tmp_path, settings=SETTINGS)
    assert (again.fitted, again.skipped) == (("S2",), ("S0", "S1"))
    with pytest.raises(TypeError, match="settings must not hold symbol"):
        distributed.fit_many(data, tmp_path, settings={"symbol": "X"})


@pytest.mark.slow  # trains and saves a population of its own: multi-second
def test_fit_many_reads_a_long_frame_in_memory_as_its_mapping(tmp_path):
    # Only a path or a mapping was taken: a long DataFrame raised a TypeError.
    stamps = pd.date_range("2024-01-01", periods=70, freq="D")
    frame = pd.concat(
        pd.DataFrame(
            {
                "unique_id": name,
                "ds": stamps,
                "y": 100 * np.exp(np.cumsum(np.random.default_rng(i).normal(0, 0.01, 70))),
            }
        )
        for i, name in enumerate(["B", "A"])
    )
    first = distributed.fit_many(frame.set_index(["unique_id", "ds"]), tmp_path, settings=SETTINGS)
    assert (first.total_fitted, first.total_series) == (2, 2)
    again = distributed.fit_many(jl.data.split_long(frame), tmp_path, settings=SETTINGS)
    assert again.skipped == ("A", "B")  # the same series, saved fresh from the frame
    with pytest.raises(TypeError, match="a long DataFrame or a mapping"):
        distributed.fit_many([1.0, 2.0], tmp_path, settings=SETTINGS)


@pytest.mark.slow  # trains two chunks: multi-second
def test_a_saved_chunk_is_out_of_memory_before_the_next_one_trains(tmp_path, monkeypatch):
    # Each chunk's models used to stay referenced while the next chunk trained: two chunks
    # of models (0.7 MB each with their band residuals) at the peak instead of one.
    data = {f"S{i}": 100 * np.exp(np.cumsum(np.random.default_rng(i).normal(0, 0.01, 90))) for i in range(5)}
    alive: list[weakref.ref] = []
    seen_alive: list[int] = []
    released: list[int] = []
    real = jl.LSTMForecaster.fit_many.__func__

    def fit_many(cls, chunk, **kwargs):
        gc.collect()
        seen_alive.append(sum(ref() is not None for ref in alive))
        fitted = real(cls, chunk, **kwargs)
        alive.extend(weakref.ref(m) for m in fitted.values())
        return fitted

    monkeypatch.setattr(jl.LSTMForecaster, "fit_many", classmethod(fit_many))
    monkeypatch.setattr(distributed, "release_freed_memory", lambda: released.append(1) or True)
    report = distributed.fit_many(data, tmp_path, settings=SETTINGS, chunk_size=2)
    assert report.total_fitted == 5
    assert seen_alive == [0, 0, 0]  # chunks of 2, 2 and 1: none trains beside the models before it
    assert len(released) == 3  # after each chunk is saved


@pytest.mark.skipif(not pathlib.Path("/proc/self/status").exists(), reason="reads the resident size from /proc")
def test_release_freed_memory_returns_memory_where_glibc_can():
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim
    except AttributeError:
        assert distributed.release_freed_memory() is False  # not glibc: a no-op
        return
    blocks = [bytearray(64 * 1024 - 64) for _ in range(4000)]  # ~256 MB below the mmap threshold
    del blocks[::2]  # freed in the middle of the heap: glibc keeps it without a trim
    before = _resident_kib()
    assert distributed.release_freed_memory() is True
    assert _resident_kib() < before - 50_000  # at least ~50 MB of the ~128 MB freed handed back
    del blocks


def _resident_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def test_a_process_that_already_ran_jax_runs_alone_unless_it_is_in_a_job(monkeypatch):
    jax.numpy.ones(2).block_until_ready()  # JAX has run here: the process can no longer join anything
    monkeypatch.setattr(processes, "_GROUP", None)
    for name in processes.JOB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert distributed.initialize() == distributed.ProcessGroup(0, 1, 1)
    monkeypatch.setattr(processes, "_GROUP", None)
    monkeypatch.setenv("SLURM_JOB_ID", "1")  # a job's task that would fit every series alone
    with pytest.raises(RuntimeError, match="JAX has already run in this process; call fit_many"):
        distributed.initialize()
    with pytest.raises(ValueError, match="coordinator, num_processes and process_id go together"):
        distributed.initialize("127.0.0.1:1234")


@pytest.mark.slow  # compiles a tune search
def test_fit_many_with_a_search_saves_what_tune_finds(tmp_path):
    prices = 100 * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.01, 120)))
    space = {"learning_rate": [1e-3, 1e-2]}
    options = {"folds": 1, "horizon": 4, "halving": None}
    report = distributed.fit_many({"T": prices}, tmp_path, settings=SETTINGS, search=space, search_options=options)
    assert report.fitted == ("T",)
    best = jl.tune(prices, space, symbol="T", **options, **SETTINGS)
    saved = jl.LSTMForecaster.load(tmp_path / "T")
    assert saved.learning_rate == best.learning_rate
    for a, b in zip(params_of(tmp_path / "T"), [np.asarray(x) for x in jax.tree.leaves(best.params_)], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="search_options needs search="):
        distributed.fit_many({"T": prices}, tmp_path, settings=SETTINGS, search_options=options)


@pytest.mark.slow
def test_two_processes_give_the_params_of_one(tmp_path, collectives):
    data = tmp_path / "long.csv"
    ids = _long_csv(data, 6)
    one = subprocess.run(
        fit_many_command(data, tmp_path / "one", "--quiet"),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
        check=False,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(
        fit_many_command(data, tmp_path / "two", "--processes", "2", "--chunk-size", "2", "--heartbeat-timeout", "20"),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
        check=False,
    )
    assert two.returncode == 0, two.stderr[-2000:]
    assert two.stdout.strip().splitlines() == [
        f"fitted 6 and kept 0 fresh of 6 series with 2 processes; models in {tmp_path / 'two'}"
    ]
    # Each process announced and reported its own three series; nothing of JAX's logs leaked.
    lines = two.stderr.strip().splitlines()
    assert all(line.startswith("jaxlstm fit-many: ") for line in lines), lines
    assert sum("3 series, 0 fresh, 3 to fit" in line for line in lines) == 2
    assert [p.name for p in distributed.complete_models(tmp_path / "two")] == ids
    for symbol in ids:
        for a, b in zip(params_of(tmp_path / "one" / symbol), params_of(tmp_path / "two" / symbol), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_bad_data_in_the_processes_is_one_line(tmp_path, collectives):
    data = tmp_path / "wide.csv"
    pd.DataFrame({"ds": [1, 2], "close": [1.0, 2.0]}).to_csv(data, index=False)
    command = fit_many_command(data, tmp_path / "models", "--processes", "2", "--heartbeat-timeout", "10")
    out = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300, check=False)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"jaxlstm fit-many: error: process [01] of 2 failed: .* missing \['unique_id', 'y'\].*", last)
    assert not (tmp_path / "models").exists()


@pytest.mark.slow
@pytest.mark.skipif(not locking.PROCESS_LOCKS, reason="needs fcntl to lock model folders across processes")
@pytest.mark.parametrize("victim", [1, 0], ids=["worker", "coordinator"])
def test_a_killed_process_stops_the_other_and_a_rerun_finishes(tmp_path, collectives, victim):
    data = tmp_path / "long.csv"
    ids = _long_csv(data, 16, length=150)
    models = tmp_path / "models"
    heartbeat = 5
    command = fit_many_command(
        data, models, "--processes", "2", "--chunk-size", "1", "--heartbeat-timeout", str(heartbeat), "--epochs", "30"
    )
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stderr is not None
        pids, bound = {}, {}
        while len(pids) < 2:
            line = proc.stderr.readline()
            assert line, "the launcher ended before starting both processes"
            found = re.match(r"jaxlstm fit-many: started process (\d) of 2 \(pid (\d+)\)(.*)", line)
            if found:
                pids[int(found.group(1))] = int(found.group(2))
                bound[int(found.group(1))] = found.group(3).strip()
        shares = processes.core_shares(2)
        if shares is not None:  # each process runs on its own cores, as the line says
            assert [os.sched_getaffinity(pids[i]) for i in range(2)] == shares
            assert [bound[i] for i in range(2)] == [f"on cores {','.join(map(str, sorted(s)))}" for s in shares]
        else:
            assert bound == {0: "", 1: ""}
        deadline = time.monotonic() + 240
        while not distributed.complete_models(models):
            assert proc.poll() is None and time.monotonic() < deadline, "no model was saved"
            time.sleep(0.02)
        os.kill(pids[victim], signal.SIGKILL)
        killed = time.monotonic()
        _, err = proc.communicate(timeout=heartbeat + 60)
        stopped = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    # The other process was stopped by the runtime's heartbeat check, not by the launcher's
    # safety net (heartbeat + 15 s), and the user reads one line about it.
    assert stopped < heartbeat + 15, stopped
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        f"jaxlstm fit-many: error: process {victim} of 2 was killed by SIGKILL; the other 1 stopped"
    ), last
    assert "run the same command again" in last
    assert not any("Traceback" in line or "Check failure" in line for line in err.splitlines())
    complete = distributed.complete_models(models)
    assert 1 <= len(complete) < len(ids), "the run must be cut short for the test to mean anything"
    for folder in complete:
        jl.LSTMForecaster.load(folder)  # complete and intact (checksums verified)
    for entry in models.iterdir():
        # Besides complete models only lock files and the temporary folder of a save cut short.
        assert model_files.is_model_folder(entry) or entry.name.endswith(".lock") or ".tmp-" in entry.name, entry
    kept = {p.name: (p / "metadata.json").stat().st_mtime_ns for p in complete}

    rerun = subprocess.run([*command, "--quiet"], capture_output=True, text=True, env=_env(), timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"fitted {len(ids) - len(kept)} and kept {len(kept)} fresh of {len(ids)} series" in rerun.stdout
    assert [p.name for p in distributed.complete_models(models)] == ids
    for name, stamp in kept.items():  # the fresh models were not written again
        assert (models / name / "metadata.json").stat().st_mtime_ns == stamp


BACKTEST = textwrap.dedent(
    """
    import functools, json, sys
    import jaxlstm as jl
    from jaxlstm import distributed

    models = {"lstm": functools.partial(jl.LSTMForecaster, epochs=2, hidden_size=4, sequence_length=8), "drift": "drift"}
    models["drift"] = jl.evaluation.make_forecasters(["drift"])["drift"]
    coordinator, size, rank, out = sys.argv[1:5]
    kwargs = {} if coordinator == "-" else {"coordinator": coordinator, "num_processes": int(size), "process_id": int(rank)}
    result = distributed.backtest_many(sys.argv[5], models, train_size=100, steps=5, origins=[100, 108], **kwargs)
    if rank == "0":
        with open(out, "w") as f:
            json.dump(result, f, sort_keys=True)
    """
)


@pytest.mark.slow
def test_backtests_split_over_two_processes_equal_one_process(tmp_path, collectives):
    data = tmp_path / "long.csv"
    ids = _long_csv(data, 3)
    port = distributed_port()

    def start(size: int, rank: int, out: pathlib.Path) -> subprocess.Popen:
        coordinator = "-" if size == 1 else f"127.0.0.1:{port}"
        return subprocess.Popen(
            [sys.executable, "-c", BACKTEST, coordinator, str(size), str(rank), str(out), str(data)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )

    procs = [start(2, rank, tmp_path / "two.json") for rank in range(2)] + [start(1, 0, tmp_path / "one.json")]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    one = json.loads((tmp_path / "one.json").read_text())
    two = json.loads((tmp_path / "two.json").read_text())
    assert sorted(one) == ids
    # Every score to the last digit; only the measured run times differ.
    assert json.dumps(_without_timings(two)) == json.dumps(_without_timings(one))
    assert "seconds" in json.dumps(one)  # the timings that were left out are there


def _without_timings(tree: object) -> object:
    if isinstance(tree, dict):
        return {k: _without_timings(v) for k, v in tree.items() if "seconds" not in k}
    if isinstance(tree, list):
        return [_without_timings(v) for v in tree]
    return tree


# ---------------------------------------------------------------------------- one search, trials split

SEARCH = {"learning_rate": [1e-3, 3e-3, 1e-2], "hidden_size": [4, 8]}  # 6 trials, rungs of 2, 4, 6 epochs
SEARCH_OPTIONS = {"folds": 2, "horizon": 4, "halving": 3, "epochs": 6, "sequence_length": 8, "seed": 3}


def _search_prices() -> np.ndarray:
    return 100 * np.exp(np.cumsum(np.random.default_rng(11).normal(0, 0.01, 140)))


def _same_search(got: jl.LSTMForecaster, want: jl.LSTMForecaster) -> None:
    assert got.get_params() == want.get_params()  # the same trial chosen
    rows, expected = got.tuning_.rows, want.tuning_.rows
    assert [{k: v for k, v in r.items() if "score" not in k and k != "relative_mae"} for r in rows] == [
        {k: v for k, v in r.items() if "score" not in k and k != "relative_mae"} for r in expected
    ]
    for a, b in zip(rows, expected, strict=True):
        np.testing.assert_allclose(a["fold_scores"], b["fold_scores"], rtol=1e-5)
    # Groups are counted per process: split trials of unlike shapes may each be alone on theirs.
    assert 1 <= got.tuning_.groups <= want.tuning_.groups
    for a, b in zip(jax.tree.leaves(got.params_), jax.tree.leaves(want.params_), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def _threads_as_processes(monkeypatch, size: int) -> None:
    """Stands ``size`` threads in for the processes of a job: each thread's ``process_id`` is its rank,
    and the all-gather meets at a barrier (the real collective is tested with real processes below)."""
    import threading

    barrier = threading.Barrier(size)
    slots: list[object] = [None] * size
    where = threading.local()

    def join(processes):
        where.rank = processes["process_id"]
        return distributed.ProcessGroup(where.rank, size, size)

    def gather(value):
        slots[where.rank] = json.loads(json.dumps(value))
        barrier.wait(timeout=120)
        out = list(slots)
        barrier.wait(timeout=120)  # nobody writes the next round's value before all have read this one
        return out

    monkeypatch.setattr(processes, "join", join)
    monkeypatch.setattr(processes, "all_gather_json", gather)


@pytest.mark.slow  # compiles a tune search three times over
@pytest.mark.parametrize("size", [2, 7])  # 7 processes for 6 trials: one has no trial at all
def test_trials_split_over_processes_choose_what_one_process_chooses(monkeypatch, size):
    from concurrent.futures import ThreadPoolExecutor

    prices = _search_prices()
    alone = jl.tune(prices, SEARCH, **SEARCH_OPTIONS)
    _threads_as_processes(monkeypatch, size)
    trained: list[int] = []
    train = jl.LSTMForecaster.train_prepared

    def counting(models, *args, **kwargs):
        trained.append(len(models))
        return train(models, *args, **kwargs)

    monkeypatch.setattr(jl.LSTMForecaster, "train_prepared", staticmethod(counting))
    with ThreadPoolExecutor(size) as pool:
        futures = [
            pool.submit(jl.tune, prices, SEARCH, processes={"process_id": rank}, workers=1, **SEARCH_OPTIONS)
            for rank in range(size)
        ]
        results = [f.result(timeout=600) for f in futures]
    for result in results:
        _same_search(result, alone)
    # Each trial x fold trained once per rung it reached, on one process only: 6 + 2 + 1 trials, 2 folds.
    assert sum(trained) == (6 + 2 + 1) * 2
    assert max(trained) <= -(-6 // size) * 2


def test_processes_must_be_a_flag_or_the_join_arguments():
    with pytest.raises(TypeError, match="processes must be False, True .* or a dict of coordinator"):
        jl.tune(_search_prices(), SEARCH, processes={"coordinatr": "127.0.0.1:1"}, **SEARCH_OPTIONS)
    with pytest.raises(TypeError, match="search_options must hold tune's options only"):
        distributed.fit_many({"T": _search_prices()}, "unused", search=SEARCH, search_options={"processes": True})


TUNE = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    import jaxlstm as jl

    coordinator, size, rank, out = sys.argv[1:5]
    processes = False if coordinator == "-" else {"coordinator": coordinator, "num_processes": int(size), "process_id": int(rank)}
    prices = 100 * np.exp(np.cumsum(np.random.default_rng(11).normal(0, 0.01, 140)))
    trained, train = [], jl.LSTMForecaster.train_prepared
    jl.LSTMForecaster.train_prepared = staticmethod(lambda models, *a, **k: trained.append(len(models)) or train(models, *a, **k))
    space = {"learning_rate": [1e-3, 3e-3, 1e-2], "hidden_size": [4, 8]}
    best = jl.tune(prices, space, folds=2, horizon=4, halving=3, epochs=6, sequence_length=8, seed=3, processes=processes)
    result = {
        "settings": best.get_params(),
        "table": best.tuning_.to_dict(),
        "params": [np.asarray(a).ravel().tolist() for a in jax.tree.leaves(best.params_)],
        "processes": jax.process_count(),
        "trained": sum(trained),
    }
    with open(out, "w") as f:
        json.dump(result, f)
    """
)


@pytest.mark.slow
def test_one_search_over_two_processes_equals_one_process(tmp_path, collectives):
    port = distributed_port()

    def start(size: int, rank: int, out: pathlib.Path) -> subprocess.Popen:
        coordinator = "-" if size == 1 else f"127.0.0.1:{port}"
        return subprocess.Popen(
            [sys.executable, "-c", TUNE, coordinator, str(size), str(rank), str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )

    outs = [tmp_path / "rank0.json", tmp_path / "rank1.json", tmp_path / "one.json"]
    procs = [start(2, 0, outs[0]), start(2, 1, outs[1]), start(1, 0, outs[2])]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    rank0, rank1, one = (json.loads(p.read_text()) for p in outs)
    for two in (rank0, rank1):
        assert two["settings"] == one["settings"]
        rows, expected = two["table"]["rows"], one["table"]["rows"]
        assert [(r["trial"], r["rung"], r["epochs"], r["best"]) for r in rows] == [
            (r["trial"], r["rung"], r["epochs"], r["best"]) for r in expected
        ]
        assert sorted(r["rung"] for r in rows) == [0, 0, 0, 0, 1, 2]  # halving ran: 6, then 2, then 1 trial
        for a, b in zip(rows, expected, strict=True):
            np.testing.assert_allclose(a["fold_scores"], b["fold_scores"], rtol=1e-5)
        for a, b in zip(two["params"], one["params"], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert rank0["params"] == rank1["params"]  # every process fitted the same winner
    # The two really were one job, and each trained its own share of the trial x fold runs.
    assert (rank0["processes"], rank1["processes"], one["processes"]) == (2, 2, 1)
    assert rank0["trained"] + rank1["trained"] == one["trained"] == (6 + 2 + 1) * 2
    assert rank0["trained"] > 0 and rank1["trained"] > 0


# ---------------------------------------------------------------------------- a global model across processes


def test_a_block_share_is_contiguous_in_sorted_order_and_covers_the_ids():
    ids = [f"S{i:02d}" for i in range(11)]
    parts = [global_processes.block(ids, i, 3) for i in range(3)]
    assert [p for part in parts for p in part] == ids  # in process order: one process's order of the windows
    assert [len(p) for p in parts] == [4, 4, 3]
    assert global_processes.block(ids[:2], 1, 2) == ["S01"]


def test_a_global_fit_across_processes_refuses_what_it_cannot_do(tmp_path):
    group = processes.ProcessGroup(0, 2, 1)
    with pytest.raises(ValueError, match="has no series embedding yet"):
        global_processes.fit_across(jl.LSTMForecaster(series_embedding=2), {"A": np.ones(50)}, group)
    with pytest.raises(ValueError, match="process 0 of 2 has no series"):
        global_processes.fit_across(jl.LSTMForecaster(), {}, group)
    with pytest.raises(TypeError, match="global_name fits one LSTMForecaster"):
        distributed.fit_many({"A": np.ones(50)}, tmp_path, global_name="U", search={"learning_rate": [1e-3]})
    with pytest.raises(TypeError, match="global_name must be a non-empty string"):
        distributed.fit_many({"A": np.ones(50)}, tmp_path, global_name="")


def _global_models_alike(a: jl.LSTMForecaster, b: jl.LSTMForecaster) -> None:
    for x, y in zip(jax.tree.leaves(a.params_), jax.tree.leaves(b.params_), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
    assert list(a.series_ or {}) == list(b.series_ or {})
    assert a.trained_on_ == b.trained_on_
    assert {k: v for k, v in (a.metrics_ or {}).items() if "loss" not in k} == {
        k: v for k, v in (b.metrics_ or {}).items() if "loss" not in k
    }
    for name, view in (a.series_ or {}).items():
        other = (b.series_ or {})[name]
        for source, residuals in view.band_.residuals.items():
            np.testing.assert_allclose(residuals, other.band_.residuals[source], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_a_global_model_over_two_processes_has_the_params_of_one(tmp_path, collectives):
    data = tmp_path / "long.csv"
    ids = _long_csv(data, 4)  # unequal lengths: the two blocks hold different numbers of windows
    frame = pd.read_csv(data)
    series = {s: frame[frame["unique_id"] == s].sort_values("ds")["y"].to_numpy() for s in ids}
    stamps = {s: pd.to_datetime(frame[frame["unique_id"] == s].sort_values("ds")["ds"]) for s in ids}
    one = jl.LSTMForecaster(**SETTINGS, symbol="U").fit(
        {s: pd.Series(series[s], index=pd.DatetimeIndex(stamps[s], name="ds")) for s in ids}
    )
    command = fit_many_command(data, tmp_path / "two", "--global", "--name", "U", "--processes", "2", "--steps", "2")
    two = subprocess.run(
        [*command, "--heartbeat-timeout", "20"], capture_output=True, text=True, env=_env(), timeout=300, check=False
    )
    assert two.returncode == 0, two.stderr[-2000:]
    lines = two.stderr.strip().splitlines()
    # The processes' lines are relayed as they come: their order between processes is not fixed.
    assert (
        f"jaxlstm fit-many: fitted a global model 'U' of 4 series with 2 processes; saved in {tmp_path / 'two'}"
        in lines
    ), lines
    assert sum("2 of the 4 series of one global model" in line for line in lines) == 2
    assert [p.name for p in distributed.complete_models(tmp_path / "two")] == ["U"]  # one model, complete
    saved = jl.LSTMForecaster.load(tmp_path / "two" / "U")
    _global_models_alike(one, saved)
    # Process 0 printed every series' forecast, from the whole model.
    printed = pd.read_csv(io.StringIO(two.stdout))
    assert sorted(printed["unique_id"].unique()) == ids
    expected = one.forecast(steps=2).to_pandas()
    np.testing.assert_allclose(printed["predicted"], expected["predicted"], rtol=1e-5)


SPLIT = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    import jaxlstm as jl
    from jaxlstm._src import processes
    from jaxlstm._src.forecasters import global_models, global_processes

    rng = np.random.default_rng(2)
    data = {f"S{i}": 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 100 + 9 * i))) for i in range(3)}
    settings = dict(epochs=3, hidden_size=8, sequence_length=8, seed=3, batch_size=16)
    one = jl.LSTMForecaster(**settings).fit(data)
    out = {"devices": jax.device_count()}
    for split in (False, True):
        token = global_models.ACROSS.set(global_processes.across(processes.ProcessGroup(0, 1, 1), split))
        try:
            found = jl.LSTMForecaster(**settings).fit(data)
        finally:
            global_models.ACROSS.reset(token)
        out[str(split)] = max(
            float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
            for a, b in zip(jax.tree.leaves(one.params_), jax.tree.leaves(found.params_))
        )
        out[str(split) + "_epochs"] = [found.metrics_["epochs_run"], one.metrics_["epochs_run"]]
    print(json.dumps(out))
    """
)


@pytest.mark.slow
def test_windows_split_over_two_devices_train_as_one_device_with_and_without_split_minibatches():
    # Two simulated devices in one process: the sharded windows and the data-parallel
    # minibatches (each device half of every minibatch, the gradients all-reduced) without gloo.
    env = dict(_env(), XLA_FLAGS=os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2")
    out = subprocess.run(
        [sys.executable, "-c", SPLIT], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["devices"] == 2
    assert found["False"] < 1e-5 and found["True"] < 1e-5, found
    assert found["False_epochs"][0] == found["False_epochs"][1] and found["True_epochs"][0] == found["True_epochs"][1]


@pytest.mark.slow
@pytest.mark.skipif(not locking.PROCESS_LOCKS, reason="needs fcntl to lock model folders across processes")
def test_a_killed_process_leaves_no_part_of_a_global_model(tmp_path, collectives):
    data = tmp_path / "long.csv"
    _long_csv(data, 4, length=200)
    models = tmp_path / "models"
    heartbeat = 5
    command = fit_many_command(
        data, models, "--global", "--processes", "2", "--heartbeat-timeout", str(heartbeat), "--epochs", "400"
    )
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stderr is not None
        pids, announced = {}, 0
        while announced < 2:  # both processes have read their series and are about to train
            line = proc.stderr.readline()
            assert line, "the launcher ended before both processes started training"
            found = re.match(r"jaxlstm fit-many: started process (\d) of 2 \(pid (\d+)\)", line)
            if found:
                pids[int(found.group(1))] = int(found.group(2))
            announced += "series of one global model" in line
        time.sleep(2)
        assert proc.poll() is None, "the fit ended before the kill: the test would mean nothing"
        os.kill(pids[1], signal.SIGKILL)
        killed = time.monotonic()
        _, err = proc.communicate(timeout=heartbeat + 60)
        stopped = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert stopped < heartbeat + 15, stopped
    last = err.strip().splitlines()[-1]
    assert last.startswith("jaxlstm fit-many: error: process 1 of 2 was killed by SIGKILL; the other 1 stopped"), last
    assert last.endswith(f"0 complete models in {models} (run the same command again to fit the global model)"), last
    assert not any("Traceback" in line or "Check failure" in line for line in err.splitlines())
    assert not distributed.complete_models(models)


def test_the_launcher_names_a_killed_process_not_the_peer_whose_collective_it_broke():
    # Found ended in the same polling round: the peer's error (its all-reduce lost the
    # connection the killed process held) is the consequence, the signal the cause.
    from jaxlstm.cli import _first_failure

    assert _first_failure([None, None]) is None and _first_failure([0, None]) is None
    assert _first_failure([2, -signal.SIGKILL]) == (1, -signal.SIGKILL)
    assert _first_failure([2, 1]) == (0, 2)
    assert _first_failure([None, 1, -signal.SIGTERM, -signal.SIGKILL]) == (2, -signal.SIGTERM)


def _scheduler_port() -> int:
    """A free port that JAX's SLURM and Open MPI detection can be made to choose (61440 + job id mod 4096)."""
    import socket

    for port in range(61440 + int.from_bytes(os.urandom(2)) % 2048, 65536):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 61440-65535, where JAX's cluster detection puts the coordinator")


def _scheduler_env(scheduler: str, port: int, rank: int) -> dict[str, str]:
    """What ``srun`` or ``mpirun`` would set for task ``rank`` of a 2-task job step on this host."""
    if scheduler == "slurm":
        return {
            "SLURM_JOB_ID": str(port - 61440),
            "SLURM_STEP_NODELIST": "localhost",
            "SLURM_STEP_NUM_NODES": "1",
            "SLURM_NTASKS": "2",
            "SLURM_PROCID": str(rank),
            "SLURM_LOCALID": str(rank),
        }
    # Open MPI's job id is a multiple of 4096; JAX derives the port from job id // 4096.
    return {
        "OMPI_MCA_orte_hnp_uri": f"{(port - 61440) * 4096}.0;tcp://127.0.0.1:1",
        "OMPI_COMM_WORLD_SIZE": "2",
        "OMPI_COMM_WORLD_RANK": str(rank),
        "OMPI_COMM_WORLD_LOCAL_RANK": str(rank),
    }


@pytest.mark.slow
@pytest.mark.parametrize("scheduler", ["slurm", "openmpi"])
def test_the_tasks_of_a_scheduler_job_join_without_processes_and_fit_as_one_process(tmp_path, collectives, scheduler):
    # The same command in every task, as srun or mpirun start it: no --processes, no
    # coordinator; JAX reads the job from the environment the scheduler sets.
    data = tmp_path / "long.csv"
    ids = _long_csv(data, 4)
    port = _scheduler_port()
    command = fit_many_command(data, tmp_path / "models", "--heartbeat-timeout", "20")
    tasks = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**_env(), **_scheduler_env(scheduler, port, rank)},
        )
        for rank in range(2)
    ]
    outputs = []
    for task in tasks:
        try:
            outputs.append((*task.communicate(timeout=300), task.returncode))
        except subprocess.TimeoutExpired:
            for t in tasks:
                t.kill()
            pytest.fail(f"the {scheduler} tasks did not finish within 300 s")
    for _, err, code in outputs:
        assert code == 0, err[-2000:]
    # Each task took its half; the first reports for the job (gloo's connection notice
    # aside, which the collectives print themselves on the job's stdout).
    stdouts = [[line for line in out.splitlines() if not line.startswith("[Gloo]")] for out, _, _ in outputs]
    assert stdouts == [[f"fitted 4 and kept 0 fresh of 4 series with 2 processes; models in {tmp_path / 'models'}"], []]
    for rank, (_, err, _) in enumerate(outputs):
        assert f"process {rank} of 2: 2 series, 0 fresh, 2 to fit" in err
    assert [p.name for p in distributed.complete_models(tmp_path / "models")] == ids
    frame = pd.read_csv(data)
    for symbol in (ids[0], ids[-1]):  # one series of each task
        prices = frame[frame["unique_id"] == symbol].sort_values("ds")
        alone = jl.LSTMForecaster(symbol=symbol, **SETTINGS).fit(prices.set_index(pd.to_datetime(prices["ds"]))["y"])
        expected = [np.asarray(x) for x in jax.tree.leaves(alone.params_)]
        for a, b in zip(params_of(tmp_path / "models" / symbol), expected, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_line_cut_short_by_a_killed_process_is_relayed_whole():
    # A process killed mid-line left "saved 1/8" without a newline, and the launcher's error
    # line was written onto its end, so the user's last line did not say what happened.
    import io

    from jaxlstm.cli import _relay_line

    out = io.StringIO()
    _relay_line("jaxlstm fit-many: process 0 of 2: saved 1/8", out)
    _relay_line("jaxlstm fit-many: process 1 of 2: saved 2/8\n", out)
    out.write("jaxlstm fit-many: error: process 0 of 2 was killed by SIGKILL\n")
    assert out.getvalue().splitlines()[-1] == "jaxlstm fit-many: error: process 0 of 2 was killed by SIGKILL"
    assert len(out.getvalue().splitlines()) == 3
