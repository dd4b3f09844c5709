import gc
import os
import sys

import pytest

# Tests run on CPU with a single device unless a test starts its own subprocess.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Tests stay hermetic: no compiled code read from or written to the user cache folder.
os.environ.setdefault("JAXLSTM_COMPILATION_CACHE", "0")
# Compilation is most of the suite's time, and the tests check numbers against references at
# tolerances, not speed. XLA's optimisation passes cost about a third of a test's CPU
# (tests/forecasters/test_population.py: 20.3 s of CPU with them, 13.7 s without), and
# XLA:CPU's fusion emitters another third (tests/forecasters/test_lstm_forecaster.py: 20.6 s
# with, 12.9 s without); both buy nothing for programs this small. Subprocesses that tests
# start inherit the settings. Benchmarks compile as users do.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
if "xla_cpu_use_fusion_emitters" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_use_fusion_emitters=false".strip()
sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_code():
    """Drops JAX's compiled executables after each test module.

    Every XLA:CPU executable holds about ten memory mappings until its cache entry goes; the
    whole suite in one process compiles thousands of shapes, and past the kernel's
    ``vm.max_map_count`` (65,530 by default) the next compilation dies with a segmentation
    fault instead of an error. Modules share little compiled code, so clearing between them
    costs only a few recompilations.
    """
    yield
    import jax

    jax.clear_caches()
    gc.collect()
