"""Populations of models that share shapes: ensemble members, their settings and how they combine.

Pure helpers for ``LSTMForecaster(ensemble=...)`` and ``update``; the training itself is one
call of ``stacked.run_stacked`` over a leading members axis (``train_rows``).

An ensemble is ``K`` members that differ only in settings that keep every shape and every
static training setting equal, so all of them train in one compiled ``vmap``:

* ``seed`` (initialisation and minibatch order),
* ``learning_rate`` and ``weight_decay`` (injected into each member's optimiser state by
  ``training.init_opt_state``, not compiled into the program).

``ensemble=K`` gives members with seeds ``seed, seed + 1, ..., seed + K - 1`` and the
model's own learning rate and weight decay; ``ensemble=[{"seed": 3}, {"learning_rate":
3e-4}, ...]`` lists each member's changes to the model's settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import stacked, training, validation
from jaxlstm._src.prep import windows

#: Settings an ensemble member may change (each keeps the shapes and static settings equal).
MEMBER_SETTINGS: tuple[str, ...] = ("seed", "learning_rate", "weight_decay")
#: Values of ``combine``: how members' price forecasts become one.
COMBINES: tuple[str, ...] = ("mean", "median")
#: Most members of one ensemble (a guard against a typo such as ``ensemble=10**6``).
MAX_MEMBERS = 4096


def check_ensemble(ensemble: Any) -> int | tuple[dict[str, Any], ...]:
    """Validates ``ensemble``: a member count ``K >= 1`` or a non-empty list of member settings.

    Returns:
        The int, or a tuple of dicts whose keys are in ``MEMBER_SETTINGS``.
    """
    if isinstance(ensemble, bool):
        raise TypeError(f"ensemble must be an int >= 1 or a list of member settings, got bool {ensemble!r}")
    if isinstance(ensemble, (int, np.integer)):
        count = validation.check_positive_int("ensemble", ensemble)
        if count > MAX_MEMBERS:
            raise ValueError(f"ensemble must be at most {MAX_MEMBERS} members, got {count}")
        return count
    if isinstance(ensemble, (str, bytes)) or not isinstance(ensemble, Sequence):
        raise TypeError(
            f"ensemble must be an int >= 1 or a list of member settings dicts, got {type(ensemble).__name__}"
        )
    if not ensemble or len(ensemble) > MAX_MEMBERS:
        raise ValueError(f"ensemble must list 1 to {MAX_MEMBERS} members, got {len(ensemble)}")
    members = []
    for i, member in enumerate(ensemble):
        if not isinstance(member, Mapping):
            raise TypeError(f"ensemble[{i}] must be a dict of member settings, got {type(member).__name__}")
        unknown = sorted(set(member) - set(MEMBER_SETTINGS))
        if unknown:
            raise ValueError(
                f"ensemble[{i}] has setting(s) {unknown} that members cannot change; they may change {list(MEMBER_SETTINGS)}"
            )
        members.append({str(k): v for k, v in member.items()})
    return tuple(members)


def check_combine(combine: Any) -> str:
    """Returns ``combine`` if it names a way to combine members, else raises ``ValueError``."""
    return validation.check_choice("combine", combine, COMBINES)


def member_settings(
    ensemble: int | Sequence[Mapping[str, Any]], seed: int, learning_rate: float, weight_decay: float
) -> list[dict[str, Any]]:
    """Each member's ``{"seed", "learning_rate", "weight_decay"}``, validated.

    Args:
        ensemble: from ``check_ensemble``.
        seed, learning_rate, weight_decay: the model's own settings (what members inherit).

    Returns:
        ``K`` dicts; for ``ensemble=K`` the seeds are ``seed + i``.
    """
    if isinstance(ensemble, int):
        rows: list[Mapping[str, Any]] = [{"seed": seed + i} for i in range(ensemble)]
    else:
        rows = list(ensemble)
    out = []
    for i, row in enumerate(rows):
        merged = {"seed": seed, "learning_rate": learning_rate, "weight_decay": weight_decay, **row}
        member_seed = validation.check_positive_int(f"ensemble[{i}] seed", merged["seed"], minimum=0)
        if member_seed >= 2**63:
            raise ValueError(f"ensemble[{i}] seed must be below 2**63, got {member_seed}")
        out.append(
            {
                "seed": member_seed,
                "learning_rate": validation.check_positive_float(
                    f"ensemble[{i}] learning_rate", merged["learning_rate"]
                ),
                "weight_decay": validation.check_positive_float(
                    f"ensemble[{i}] weight_decay", merged["weight_decay"], allow_zero=True
                ),
            }
        )
    return out


def combine_members(forecasts: Any, how: str) -> np.ndarray:
    """One forecast from ``[members, ...]`` member forecasts: their mean or median over members.

    Args:
        forecasts: ``[K, ..., steps]`` positive price forecasts.
        how: ``"mean"`` or ``"median"``.

    Returns:
        ``[..., steps]`` float64.
    """
    forecasts = np.asarray(forecasts, np.float64)
    if check_combine(how) == "median":
        return np.median(forecasts, axis=0)
    return np.mean(forecasts, axis=0)


def member_spread(forecasts: Any) -> np.ndarray:
    """Standard deviation over members of the log price forecasts, ``[K, ..., steps] -> [..., steps]``.

    Zero for a single member; NaN where a forecast is not positive.
    """
    forecasts = np.asarray(forecasts, np.float64)
    if forecasts.shape[0] < 2:
        return np.zeros(forecasts.shape[1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(forecasts > 0, np.log(np.where(forecasts > 0, forecasts, 1.0)), np.nan)
    return np.std(logs, axis=0, ddof=1)


def stack_trees(trees: Sequence[Any]) -> Any:
    """Stacks equal-structure pytrees along a new leading axis, on the host (``[K, ...]`` leaves)."""
    return jax.tree.map(lambda *leaves: np.stack([np.asarray(a) for a in leaves]), *trees)


def tree_row(tree: Any, index: int) -> Any:
    """Row ``index`` of every leaf of a stacked pytree."""
    return jax.tree.map(lambda a: a[index], tree)


def train_rows(
    fit_one: Callable[..., training.TrainResult],
    rows: Sequence[tuple[dict[str, Any], training.TrainData, tuple[Any, jax.Array, Any]]],
    *,
    workers: int | None = None,
    devices: Sequence[jax.Device] | None = None,
    progress_tag: int | None = None,
    progress_callback: Any = None,
) -> list[training.TrainResult]:
    """Runs ``fit_one`` (``fit_arrays`` of one model) for every ``(static, data, (params, key, opt_state))`` row, grouped by static settings.

    ``fit_one(key, params, data, opt_state, tag, **static, callback=...)`` is a module-level
    function (the same object every call, so its compilation is reused).

    Every group is one call of ``stacked.run_stacked`` (rows padded to equal lengths with
    zero-weight windows). Fits, ensembles, tuning trials, calibration refits and
    updates all train through here. ``progress_tag``: the tag row 0 reports its epochs
    under to ``progress_callback`` (a static callback such as ``progress.RELAY``; the other
    rows carry a tag no bar listens to).

    Returns:
        One host ``TrainResult`` per row, in the order of ``rows``.
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, (static, data, _) in enumerate(rows):
        # Windows of other lengths (or inputs of other widths) cannot share a call.
        groups.setdefault((tuple(sorted(static.items())), np.shape(data.xs)[1:]), []).append(i)
    out: list[Any] = [None] * len(rows)
    for (static, _), members in groups.items():
        fields = []
        for field in zip(*[rows[i][1] for i in members], strict=True):
            stacked_field, _ = windows.pad_stack([np.asarray(a) for a in field])
            fields.append(stacked_field)
        # Padding rows get weight 0 from the stacked weights themselves.
        stacked_data = training.TrainData(*fields)
        params = stack_trees([rows[i][2][0] for i in members])
        keys = jnp.stack([rows[i][2][1] for i in members])
        opt_states = stack_trees([rows[i][2][2] for i in members])
        tags = np.array([progress_tag if i == 0 and progress_tag is not None else -1 for i in members], np.int32)
        callback = None if progress_tag is None else progress_callback
        result = stacked.run_stacked(
            fit_one,
            (keys, params, stacked_data, opt_states, tags),
            static={**dict(static), "callback": callback},
            workers=workers,
            devices=devices,
        )
        result = jax.device_get(result)
        for row, i in enumerate(members):
            out[i] = training.unstack(result, row)
    return out
