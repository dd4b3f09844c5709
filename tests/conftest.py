import os
import sys

# Tests run on CPU with a single device unless a test starts its own subprocess.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Tests stay hermetic: no compiled code read from or written to the user cache folder.
os.environ.setdefault("JAXLSTM_COMPILATION_CACHE", "0")
sys.path.insert(0, os.path.dirname(__file__))
