import os
import sys

# Tests run on CPU with a single device unless a test starts its own subprocess.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.dirname(__file__))
