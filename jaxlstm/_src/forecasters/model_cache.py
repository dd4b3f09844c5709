"""``jaxlstm.ModelCache``: the cache of ``io.cache`` serving ``LSTMForecaster`` by default.

The cache itself imports no forecaster (io sits below the forecasters); this subclass, in
the forecasters' layer, only names the class it serves when ``model=`` is not given.
"""

from __future__ import annotations

from jaxlstm._src.forecasters.lstm import LSTMForecaster
from jaxlstm._src.io import cache


class ModelCache(cache.ModelCache):
    __doc__ = cache.ModelCache.__doc__
    default_model = LSTMForecaster
