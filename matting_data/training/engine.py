"""The training loop: one trainer for every trainable registered model.

The model supplies its network, losses and targets (``forward_train``,
``loss``) and the paper's optimiser and schedule (``default_optimizer``); the
engine supplies data, devices, mixed precision, gradient clipping, DDP,
validation with the toolkit's metric suite, checkpoints, resume and logs.

Determinism: on CPU with ``deterministic`` (default) the run sets
``torch.use_deterministic_algorithms(True)`` and a fixed thread count, the
weights come from the seed, and each batch is a function of (seed, step)
(:mod:`matting_data.training.data`); a run stopped after k steps and resumed
ends with the same weights, bit for bit, as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..errors import InputError
from ..models.base import ModelError
from ..models.torch_model import TorchMattingModel, UntrainedModelWarning
from . import distributed as D
from .config import TrainingConfig
from .data import CompositionSource, DrawBatchSampler, TrackSource, TrainDataset, load_validation, make_source
from .logs import TrainLog
from .state import read_training_state, restore_training_state, save_training_state


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    model: Any
    losses: list[float]
    step: int
    seconds: float
    config: TrainingConfig
    validation: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, float] | None = None
    out: Path | None = None
    stopped_early: bool = False

    @property
    def steps_per_second(self) -> float:
        return len(self.losses) / self.seconds if self.seconds > 0 else float("nan")


@contextlib.contextmanager
def torch_settings(cfg: TrainingConfig, device: torch.device) -> Iterator[None]:
    """Thread count and deterministic algorithms for the run; restored afterwards."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    if cfg.deterministic and device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def build_model(cfg: TrainingConfig, device: str = "cpu") -> Any:
    """The registered model ``cfg.model`` with seeded random weights, ready to train."""
    from ..models import get_model
    from ..models.registry import is_plugin_spec, model_entry

    if not is_plugin_spec(cfg.model) and not model_entry(cfg.model).trainable:
        raise ModelError(f"model {cfg.model!r} is not trainable in this toolkit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        model = get_model(cfg.model, seed=cfg.seed, device=device, **cfg.model_args)
    if not isinstance(model, TorchMattingModel) or not model.trainable:
        raise ModelError(f"model {cfg.model!r} is not trainable in this toolkit")
    return model


def _schedule(opt: torch.optim.Optimizer, kind: str, total: int) -> Any:
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total))
    if kind == "poly":
        return torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=max(1, total), power=0.9)
    return None


def make_optimizer(model: Any, cfg: TrainingConfig) -> tuple[torch.optim.Optimizer, Any]:
    """The model's default optimiser and schedule, with ``optimizer`` / ``lr`` / ``schedule`` overrides."""
    params = [p for p in model.network.parameters() if p.requires_grad]
    opt, sched = model.default_optimizer(params, cfg.steps)
    if cfg.optimizer:
        lr = cfg.lr or opt.param_groups[0]["lr"]
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}.get(cfg.optimizer)
        opt = (cls(params, lr=lr, weight_decay=cfg.weight_decay) if cls else
               torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=cfg.weight_decay))
        sched = None
    elif cfg.lr:
        for g in opt.param_groups:
            g["lr"] = cfg.lr
            g["initial_lr"] = cfg.lr
        if sched is not None:
            sched.base_lrs = [cfg.lr for _ in sched.base_lrs]
    if cfg.schedule:
        sched = _schedule(opt, cfg.schedule, cfg.steps)
    return opt, sched


def validate(model: Any, samples: list[dict[str, Any]], protocols: tuple[str, ...] = ("dim", "gfm")) -> dict[str, float]:
    """Mean metrics of ``model`` on validation samples, keys ``"<protocol>:<metric>"`` (report scale)."""
    from ..metrics import EmptyUnknownRegionWarning, evaluate_arrays

    was = model.network.training
    model.network.eval()
    sums: dict[str, list[float]] = {}
    try:
        for s in samples:
            pred = model.predict(s["image"], s["trimap"])
            for proto in protocols:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", EmptyUnknownRegionWarning)
                    vals = evaluate_arrays(pred, s["alpha"], s["trimap"], protocol=proto)
                for k, v in vals.items():
                    sums.setdefault(f"{proto}:{k}", []).append(float(v))
    finally:
        model.network.train(was)
    return {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in sums.items()}


def _to_device(batch: dict[str, torch.Tensor], device: torch.device, channels_last: bool) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in batch.items():
        v = v.to(device, non_blocking=True)
        out[k] = v.contiguous(memory_format=torch.channels_last) if channels_last else v
    return out


class _Step:
    """One optimisation step (AMP, clipping, DDP forward) bound to a model and optimiser."""

    def __init__(self, model: Any, opt: torch.optim.Optimizer, sched: Any, cfg: TrainingConfig,
                 device: torch.device, ddp: torch.nn.Module | None) -> None:
        self.model, self.opt, self.sched, self.cfg, self.ddp = model, opt, sched, cfg, ddp
        self.cuda = device.type == "cuda"
        self.amp = bool(cfg.amp and self.cuda)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)

    def __call__(self, batch: dict[str, torch.Tensor]) -> tuple[float, dict[str, float]]:
        model, net = self.model, self.model.network
        if self.ddp is not None:
            model.network = self.ddp  # forward_train calls self.network(...): DDP syncs the gradients
        try:
            with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
                outputs = model.forward_train(batch)
                loss, terms = model.loss(outputs, batch)
        finally:
            model.network = net
        if not torch.isfinite(loss.detach()):
            raise InputError(f"training diverged: the loss is {float(loss)} (lower the learning rate?)")
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.grad_clip > 0:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(net.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        if self.sched is not None:
            self.sched.step()
        return float(loss.detach()), terms


def _seed_worker(_: int) -> None:
    torch.set_num_threads(1)


def _loader(dataset: TrainDataset, sampler: DrawBatchSampler, cfg: TrainingConfig) -> DataLoader:
    return DataLoader(dataset, batch_sampler=sampler, num_workers=cfg.workers, worker_init_fn=_seed_worker,
                      persistent_workers=False, pin_memory=cfg.device.startswith("cuda"))


def _val_score(values: dict[str, float], metric: str) -> float:
    v = values.get(metric, float("nan"))
    return v if math.isfinite(v) else float("inf")


def train(
    cfg: TrainingConfig,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
    data: TrackSource | CompositionSource | None = None,
) -> TrainResult:
    """Train ``cfg.model`` as ``cfg`` says; checkpoints and logs go to ``cfg.out`` (when set).

    Parameters
    ----------
    resume : continue from ``<out>/last.state.json`` when it exists.
    stop_after : stop (saving the last checkpoint) once this many steps are done in total -- a
        controlled interruption, as a kill after that step.
    progress : show a tqdm bar with the loss and the ETA.
    on_step : called with ``(step, loss)`` after every step (main process).
    data : a ready training source (e.g. a :class:`~matting_data.training.data.TrackSource` of a
        :class:`~matting_data.datasets.track.Track` with a split filter) instead of ``cfg``'s.
    """
    info = D.init_distributed(cfg.device)
    device = torch.device(D.local_device(cfg.device, info))
    out = Path(cfg.out) if cfg.out else None
    if resume and out is None:
        raise InputError("--resume needs an output folder (out)")
    with torch_settings(cfg, device), _stop_signals() as stop:
        return _run(cfg, info, device, out, resume, stop_after, progress, on_step, data, stop)


def _setup(cfg: TrainingConfig, info: D.DistInfo, device: torch.device) -> tuple[Any, Any, _Step]:
    """Seeded model (+ backbone weights), optimiser, schedule and DDP wrapper."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, str(device))
    backbone = None
    if cfg.init_backbone:
        from .backbone import init_backbone

        backbone = init_backbone(model, cfg.init_backbone)
    net = model.network
    net.train()
    if device.type == "cuda" and cfg.channels_last:
        net.to(memory_format=torch.channels_last)
    opt, sched = make_optimizer(model, cfg)
    ddp = None
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        if device.type == "cuda":  # batch statistics over the global batch (SyncBatchNorm needs CUDA)
            net = model.network = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        ddp = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    return model, backbone, _Step(model, opt, sched, cfg, device, ddp)


#: settings that may differ when a run is resumed (how fast and where it runs; not what it computes)
RESUME_FREE = ("workers", "threads", "device", "log_every", "amp", "channels_last", "out")


def _normalised(d: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in TrainingConfig.from_dict(d).to_dict().items() if k not in RESUME_FREE}
    for k in ("train", "foregrounds", "backgrounds", "val", "fg_cache", "init_backbone"):
        if out.get(k):
            out[k] = str(Path(out[k]).resolve())
    if out.get("recipe") and Path(out["recipe"]).suffix == ".toml":
        out["recipe"] = str(Path(out["recipe"]).resolve())
    return out


def check_same_run(saved: dict[str, Any], cfg: TrainingConfig, out: Path) -> None:
    """Refuse to resume a run with other settings: the run's schedule, data and model are fixed at its start.

    Paths are compared resolved; only :data:`RESUME_FREE` settings may change.  The error names each
    changed setting with its saved and new value.
    """
    try:
        old = _normalised(dict(saved))
    except (InputError, TypeError, ValueError):
        raise InputError(f"{out}/last.state.json: its settings are not readable; pass --overwrite to start again") from None
    new = _normalised(cfg.to_dict())
    changed = [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if changed:
        raise InputError(f"--resume: {out} was trained with other settings ({', '.join(changed)}); resume with the "
                         "same settings (the schedule is fixed at the start), or start a new run")


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped training; the message says where the resumable checkpoint is."""


@contextlib.contextmanager
def _stop_signals() -> Iterator[list[int]]:
    """While training: SIGINT / SIGTERM only mark a stop (the list gets the signal number); the loop then
    saves a resumable checkpoint and raises :class:`TrainingInterrupted`.  Handlers are restored after."""
    import signal
    import threading

    stop: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def mark(signum: int, _frame: Any) -> None:
        if stop:  # a second signal: stop now
            raise KeyboardInterrupt
        stop.append(signum)

    for sig in old:
        signal.signal(sig, mark)
    try:
        yield stop
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _interrupted(out: Path | None, info: D.DistInfo, step: int, save_last: Callable[[], None], log: TrainLog,
                 stop: list[int]) -> None:
    import signal

    where = "no --out: nothing saved"
    if out is not None and info.main:
        save_last()
        log.write()
        where = f"checkpoint at step {step} in {out}; continue with --resume"
    raise TrainingInterrupted(f"{signal.Signals(stop[0]).name} ({where})")


def _validate_at(step: int, model: Any, val: list[dict[str, Any]], cfg: TrainingConfig, log: TrainLog,
                 history: list[dict[str, Any]], best: dict[str, Any] | None, out: Path | None, extra: dict[str, Any],
                 stepper: _Step) -> dict[str, Any] | None:
    """Validate at ``step`` (appended to ``history`` and the log); save the ``best`` checkpoint; return the best."""
    values = validate(model, val)
    history.append({"step": step, **values})
    log.add(step, "val", values)
    if best is None or _val_score(values, cfg.val_metric) < _val_score(best, cfg.val_metric):
        best = {"step": step, **values}
        if out is not None:
            save_training_state(out, "best", model, stepper.opt, stepper.sched, stepper.scaler, step,
                                {**extra, "best": best, "validation": history})
    return best


def _run(cfg: TrainingConfig, info: D.DistInfo, device: torch.device, out: Path | None, resume: bool,
         stop_after: int | None, progress: bool, on_step: Callable[[int, float], None] | None,
         data: TrackSource | CompositionSource | None = None, stop: list[int] | None = None) -> TrainResult:
    stop = [] if stop is None else stop
    model, backbone, stepper = _setup(cfg, info, device)
    net, opt, sched = model.network, stepper.opt, stepper.sched
    log = TrainLog(out if info.main else None)
    start, best, history = 0, None, []
    state = read_training_state(out) if resume and out is not None else None
    if state is not None:
        check_same_run(state.get("config", {}), cfg, out)  # type: ignore[arg-type]
        restore_training_state(out, state, model, opt, sched, stepper.scaler)  # type: ignore[arg-type]
        start, best, history = int(state["step"]), state.get("best"), list(state.get("validation", []))
        log.load(start)
    source = data if data is not None else make_source(cfg)
    if hasattr(source, "prepare") and info.main:
        source.prepare(progress)
    D.barrier(info)
    dataset = TrainDataset(source, cfg)
    val = load_validation(cfg.val, cfg) if cfg.val and info.main else []
    end = cfg.steps if stop_after is None else min(cfg.steps, int(stop_after))
    loader = _loader(dataset, DrawBatchSampler(start, end, cfg.batch, info.rank, info.world), cfg)
    extra = {"config": cfg.to_dict(), "backbone_init": backbone}
    t0 = time.perf_counter() - max((float(r.get("seconds", 0.0)) for r in log.rows), default=0.0)  # resumed
    bar = tqdm(total=cfg.steps, initial=start, desc=f"train {cfg.model}", unit="step",
               disable=not (progress and info.main))
    step = start

    def save_last() -> None:
        assert out is not None
        save_training_state(out, "last", model, opt, sched, stepper.scaler, step,
                            {**extra, "best": best, "validation": history})

    for batch in loader:
        if stop:
            _interrupted(out, info, step, save_last, log, stop)
        loss, terms = stepper(_to_device(batch, device, device.type == "cuda" and cfg.channels_last))
        step += 1
        loss = D.mean_over_processes(loss, info)
        lr = float(opt.param_groups[0]["lr"])
        log.add(step, "train", {"loss": loss, **{k: D.mean_over_processes(v, info) for k, v in terms.items()},
                                "lr": lr, "seconds": time.perf_counter() - t0})
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")
        if on_step is not None and info.main:
            on_step(step, loss)
        last = step == end
        if val and ((cfg.val_every and step % cfg.val_every == 0) or step == cfg.steps):
            best = _validate_at(step, model, val, cfg, log, history, best, out, extra, stepper)
        if info.main and (last or step % cfg.log_every == 0):
            log.write()
        if out is not None and info.main and (last or (cfg.save_every and step % cfg.save_every == 0)):
            save_last()
    if stop and step < end:  # the signal came during the last step taken
        _interrupted(out, info, step, save_last, log, stop)
    bar.close()
    D.barrier(info)
    net.eval()
    seconds = time.perf_counter() - t0  # training time over all segments of a resumed run
    D.shutdown(info)
    return TrainResult(model=model, losses=log.losses(), step=step, seconds=seconds, config=cfg,
                       validation=history, best=best, out=out, stopped_early=step < cfg.steps)
