import gc
import os
import sys

import pytest

# Tests run on CPU with a single device unless a test starts its own subprocess.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Tests stay hermetic: no compiled code read from or written to the user cache folder.
os.environ.setdefault("JAXLSTM_COMPILATION_CACHE", "0")
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
