"""Populations of models that share shapes: ensemble members, their settings, how they start and how they combine.

Pure helpers for ``LSTMForecaster(ensemble=...)``, ``fit`` and ``update``: ``Members`` gives
each member its initial params, shuffling key and optimiser state, ``summary`` turns the
members' training runs into one model's history and metrics; the training itself is one
call of ``stacked.run_stacked`` over a leading rows axis (``rows.train_rows``).

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

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxlstm._src import stacked, training, validation
from jaxlstm._src.forecasters import intervals

#: Settings an ensemble member may change (each keeps the shapes and static settings equal).
MEMBER_SETTINGS: tuple[str, ...] = ("seed", "learning_rate", "weight_decay")
#: Values of ``combine``: how members' price forecasts become one.
COMBINES: tuple[str, ...] = ("mean", "median")
#: The learning rate compiled into the optimiser of every fit: each member's own rate (and
#: weight decay) is injected into its optimiser state, so models that differ only in those
#: share one compiled program and train together in one call.
COMPILED_LEARNING_RATE = 1e-3
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
        member_seed = validation.check_seed(f"ensemble[{i}] seed", merged["seed"])
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
        if (first := out.index(out[-1])) < i:
            raise ValueError(
                f"ensemble[{i}] has the settings of ensemble[{first}] ({out[i]}): identical members train identical "
                "params, so the ensemble would only repeat them; give each member another seed or rate"
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


def combined(forecasts: Any, how: str) -> np.ndarray:
    """One model's forecasts from its ``[K, ...]`` members': ``combine_members`` of an ensemble, the lone member's as they are."""
    return combine_members(forecasts, how) if len(forecasts) > 1 else forecasts[0]


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
    return jax.tree.map(lambda *leaves: stacked.stack_on_host(leaves), *trees)


def tree_row(tree: Any, index: int) -> Any:
    """Row ``index`` of every leaf of a stacked pytree."""
    return jax.tree.map(lambda a: a[index], tree)


def unstack(tree: Any, count: int) -> list[Any]:
    """The ``count`` rows of a stacked pytree, each a tree of its own."""
    return [tree_row(tree, j) for j in range(count)]


def member_trees(params: Any, opt_state: Any, count: int) -> list[tuple[Any, Any]]:
    """Each member's ``(params, optimiser state or None)`` of a model's (stacked when ``count > 1``) trees.

    ``opt_state`` None (a model saved before the state was kept) gives None for every member.
    """
    found = [params] if count == 1 else unstack(params, count)
    states = [None] * count if opt_state is None else [opt_state] if count == 1 else unstack(opt_state, count)
    return list(zip(found, states, strict=True))


def widened(forecast: Any, members: np.ndarray) -> Any:
    """An ensemble's ``Forecast`` whose band is never narrower than its members' ``[K, steps]`` forecasts' range.

    The conformal band calibrates the combined forecast's errors; where the members
    disagree more than that band allows, it is widened to their range
    (``intervals.MEMBERS_RANGE`` ends ``Forecast.band``, for every forecast of an ensemble,
    so the method is one).
    """
    return dataclasses.replace(
        forecast,
        lower=np.minimum(forecast.lower, members.min(axis=0)),
        upper=np.maximum(forecast.upper, members.max(axis=0)),
        band=f"{forecast.band}{intervals.MEMBERS_RANGE}",
    )


def seed_key(seed: int) -> jax.Array:
    """The PRNG key of a seed in ``[0, 2**63)``: ``jax.random.key(seed)`` below ``2**32``, the high bits folded in above.

    Without x64, ``jax.random.key`` keeps only a seed's low 32 bits, so seeds ``1`` and
    ``2**32 + 1`` made one model; this key is the same whether the host enables x64 or not.
    """
    key = jax.random.key(seed & 0xFFFFFFFF)
    return key if seed < 2**32 else jax.random.fold_in(key, seed >> 32)


@dataclasses.dataclass(frozen=True, eq=False)
class Members:
    """How each member of one model begins (or continues) training.

    Attributes:
        settings: each member's ``{"seed", "learning_rate", "weight_decay"}`` (``member_settings``).
        network: the network's config (``init`` makes a member's params).
        train_config: the model's training settings.
        loss: the per-example training loss (``fit_arrays(loss=)``); None: the trainer's default.
    """

    settings: tuple[dict[str, Any], ...]
    network: Any
    train_config: training.TrainConfig
    loss: Any = None

    @property
    def count(self) -> int:
        """Members (1 for a single model)."""
        return len(self.settings)

    @property
    def decays(self) -> bool:
        """Whether any member decays its weights (AdamW is then compiled in; a member with 0 gets Adam's steps)."""
        return any(m["weight_decay"] > 0 for m in self.settings)

    def static(self, **changes: Any) -> dict[str, Any]:
        """The static arguments of ``fit_arrays`` (models with equal ones train in one call).

        The learning rate and weight decay are not among them: each member carries its own
        in its optimiser state (``fresh_opt_state``).

        Args:
            **changes: ``TrainConfig`` fields to replace (``update`` and ``tune`` change the
                epochs and the stopping rules).
        """
        config = dataclasses.replace(
            self.train_config,
            learning_rate=COMPILED_LEARNING_RATE,
            weight_decay=1.0 if self.decays else 0.0,
            **changes,
        )
        # The loss joins the static arguments only when set, so models on the default loss group as before.
        return {"config": config, "network": self.network, **({} if self.loss is None else {"loss": self.loss})}

    def fresh_opt_state(self, params: Any, member: int) -> Any:
        """A new optimiser state for ``params`` with member ``member``'s learning rate and weight decay."""
        settings = self.settings[member]
        optimizer = training.make_optimizer(self.static()["config"])
        hyper = {"learning_rate": settings["learning_rate"]}
        if self.decays:
            hyper["weight_decay"] = settings["weight_decay"]
        return training.init_opt_state(optimizer, params, **hyper)

    def _keys(self, member: int) -> jax.Array:
        return jax.random.split(seed_key(self.settings[member]["seed"]))

    def start(self, member: int) -> tuple[Any, jax.Array, Any]:
        """Member ``member``'s initial ``(params, shuffling key, optimiser state)``, from its seed and rates.

        One compiled call (per network and training settings): run op by op, the
        initialisation and the optimiser state cost a warm fit about 20 ms of dispatch per member.
        """
        key_init, key_train = self._keys(member)
        settings = self.settings[member]
        starter = _starter(self.network, self.static()["config"], self.decays)
        params, opt_state = starter(key_init, settings["learning_rate"], settings["weight_decay"])
        return params, key_train, opt_state

    def resumed(self, member: int, params: Any, opt_state: Any, salt: int) -> tuple[Any, jax.Array, Any]:
        """``start`` of a fitted member: its params and optimiser state, its shuffling key folded with ``salt``.

        The fold keeps a continuation from replaying the first run's minibatch order.
        """
        return params, jax.random.fold_in(self._keys(member)[1], salt), opt_state

    def continued(self, member: int, params: Any, opt_state: Any, count: int) -> tuple[Any, jax.Array, Any]:
        """``start`` of ``update`` number ``count``: the params, their optimiser state (a fresh one when None), a key of the seed folded with ``count``."""
        opt_state = self.fresh_opt_state(params, member) if opt_state is None else opt_state
        return params, jax.random.fold_in(seed_key(self.settings[member]["seed"]), count), opt_state

    def templates(self) -> tuple[Any, Any]:
        """``ShapeDtypeStruct`` trees of one member's params and optimiser state.

        Shapes depend on the network and the training settings only (not on a member's
        rates), so they are traced once per pair: every save and load checks against them,
        and tracing the initialisation each time was half of a small model's save.
        """
        return _templates(self.network, self.static()["config"], self.decays)


@functools.lru_cache(maxsize=64)
def _templates(network: Any, config: training.TrainConfig, decays: bool) -> tuple[Any, Any]:
    """``Members.templates``: the shapes ``_starter``'s params and optimiser state have."""
    return jax.eval_shape(_starter(network, config, decays), jax.random.key(0), 1.0, 1.0)


@functools.lru_cache(maxsize=64)
def _starter(network: Any, config: training.TrainConfig, decays: bool) -> Any:
    """The compiled ``key, learning rate, weight decay -> (params, optimiser state)`` of ``Members.start``."""
    optimizer = training.make_optimizer(config)

    def start(key: jax.Array, learning_rate: Any, weight_decay: Any) -> tuple[Any, Any]:
        params = network.init(key)
        hyper = {"learning_rate": learning_rate, **({"weight_decay": weight_decay} if decays else {})}
        return params, training.init_opt_state(optimizer, params, **hyper)

    return jax.jit(start)


def divergence_error(members: Sequence[Mapping[str, Any]], default_learning_rate: float) -> ValueError:
    """The error of a fit whose every member diverged, saying what to try."""
    rates = ", ".join(f"{r:g}" for r in sorted({m["learning_rate"] for m in members}))
    who = "" if len(members) == 1 else f" in all {len(members)} ensemble members"
    return ValueError(
        f"training diverged{who} with learning_rate={rates}: a non-finite loss, or forecasts of the "
        "held-back windows that are not finite positive prices; try a lower learning_rate (the default is "
        f"{default_learning_rate:g}), early_stopping=True or fewer epochs, and check the "
        "data for extreme or broken prices"
    )


def dropped_message(members: Sequence[Mapping[str, Any]], kept: Sequence[int]) -> str:
    """The warning of a fit that dropped the members not in ``kept``."""
    dropped = [members[j] for j in range(len(members)) if j not in kept]
    return (
        f"{len(dropped)} of {len(members)} ensemble members diverged in training and were dropped "
        f"({dropped}); the model keeps {len(kept)}, listed by its ensemble setting; a lower learning_rate "
        "may keep them"
    )


def finished(results: Sequence[training.TrainResult]) -> list[int]:
    """Indices of the runs that trained at least one epoch and ended on a finite loss."""
    return [j for j, r in enumerate(results) if int(r.epochs_run) > 0 and np.isfinite(r.train_loss[-1])]


def kept_members(results: Sequence[training.TrainResult], adopt: Callable[[list[int]], np.ndarray]) -> list[int]:
    """The members a fit keeps: those that ``finished``, less those whose forecasts ``adopt(kept)`` finds broken.

    ``adopt(kept)`` takes over the runs ``kept`` (indices into ``results``) and returns
    ``[len(kept)]`` whether each forecasts finite positive prices; it is called again on
    the members left until every one does. The rule of every fit, local or global.

    Returns:
        The kept indices, in order; empty when every member diverged.
    """
    kept = finished(results)
    while kept:
        healthy = np.asarray(adopt(kept), bool)
        if healthy.all():
            break
        kept = [j for j, ok in zip(kept, healthy, strict=True) if ok]
    return kept


def summary(results: Sequence[training.TrainResult], validated: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(history, metrics)`` of one model from its members' training runs.

    The history is the members' mean loss per epoch (over the members still training);
    the metrics list each member's epochs when there are several.

    Args:
        results: one finished run per member.
        validated: whether the runs had held-back windows (a validation loss).
    """
    longest = max(int(r.epochs_run) for r in results)

    def padded(key: str) -> np.ndarray:
        rows = [(np.asarray(getattr(r, key), np.float64), int(r.epochs_run)) for r in results]
        return np.stack([np.pad(a, (0, longest - run), constant_values=np.nan) for a, run in rows])

    history = {
        "train_loss": np.nanmean(padded("train_loss"), axis=0),
        "val_loss": np.nanmean(padded("val_loss"), axis=0) if validated else np.zeros((0,)),
    }
    members = (
        {
            "member_epochs_run": [int(r.epochs_run) for r in results],
            "member_best_epochs": [int(r.best_epoch) for r in results],
            "members": len(results),
        }
        if len(results) > 1
        else {}
    )
    metrics = {
        "epochs_run": longest,
        "best_epoch": int(results[0].best_epoch),
        "stop_reason": "/".join(dict.fromkeys(str(r.stop_reason) for r in results)),
        "final_train_loss": float(np.mean([r.train_loss[-1] for r in results])),
        "best_val_loss": float(np.mean([np.min(r.val_loss) for r in results])) if validated else None,
        **members,
    }
    return history, metrics


def adopted(trees: Sequence[Any]) -> Any:
    """One model's tree of its members' trees: the lone tree, or the members stacked on a leading axis."""
    return trees[0] if len(trees) == 1 else stack_trees(trees)


def adopted_state(results: Sequence[training.TrainResult]) -> tuple[Any, Any]:
    """``(params on the device, optimiser state on the host)`` of one model from its members' finished runs (``adopted``)."""
    params = jax.device_put(adopted([r.params for r in results]))  # jnp.asarray compiles a copy per shape
    return params, jax.tree.map(np.asarray, adopted([r.opt_state for r in results]))
