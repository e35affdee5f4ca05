"""Device-agnostic training for all systems.

Systems: ctc | framewise | finalpool | meanpool | attnpool | dnn | lee.

- ctc: BiLSTM-CTC with 5 outputs (0 = Null/blank); target = label repeated
  K = Sample.target_len times; held-out utterances are decoded together by the numba batch
  decoder (realtime_ser.decoder_kernels: the serving tracker's statistics and decision rule).
- framewise: every frame is trained on the label; at test the frame
  log-posteriors are averaged over time (a product of frame posteriors) and
  renormalised with a softmax.
- finalpool / meanpool / attnpool: utterance-level cross-entropy.
- dnn: MLP on utterance functionals, standardised with training statistics.
- lee: the ctc system, then an ELM on mean/std/max/min over time of the
  BiLSTM outputs; the ELM ridge term is chosen on the validation split.

A stratified ``valid_fraction`` of the training data is held out; the epoch
with the best validation UAR (ties: lower validation loss) is restored.
With valid_fraction = 0 the last epoch is kept.
"""
from __future__ import annotations

import copy
import os
import random
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from realtime_ser import decoder_kernels
from realtime_ser.engine import softmax
from training.metrics import uar
from training.models import (N_EMOTIONS, POOLING_KINDS, CtcModel, Dnn, Elm,
                             PoolingModel, check_chunking, time_mask, utterance_stats)

SYSTEMS = ("ctc",) + POOLING_KINDS + ("dnn", "lee")
CTC_SYSTEMS = ("ctc", "lee")


@dataclass
class Sample:
    feats: np.ndarray          # (T, D) frame features, or (88,) for dnn
    label: int                 # 0..3: anger, happiness, neutral, sadness
    target_len: int = 1        # K, CTC only (T >= 2K - 1)


@dataclass
class FitConfig:
    system: str
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    hidden: int = 128
    dropout: float = 0.2
    grad_clip: float = 5.0
    seed: int = 0
    device: str = "auto"          # auto -> cuda if available else cpu
    threads: int = 1
    amp: str = "fp16"             # cuda only: fp16 (+GradScaler) | bf16 | off
    class_weights: bool = True    # weighted CE; CTC: per-utterance loss weight
    valid_fraction: float = 0.1   # stratified hold-out for best-epoch choice
    patience: int = 0             # stop after this many epochs without improvement; 0 = off
    eval_batch_size: int = 64
    elm_hidden: int = 1000
    elm_regs: tuple = (0.01, 0.1, 1.0, 10.0, 100.0)   # ridge candidates tried on the valid split
    elm_reg: float = 1.0          # used when there is no validation split
    chunk_frames: int | None = None   # ctc/lee: latency-controlled backward LSTM; None = offline
    right_context_frames: int = 0     # frames after each chunk the backward LSTM may see
    average: int = 0                  # > 0: average the weights of the K epochs with the best validation

    def __post_init__(self):
        if self.system not in SYSTEMS:
            raise ValueError(f"unknown system {self.system!r}; expected one of {SYSTEMS}")
        check_chunking(self.chunk_frames, self.right_context_frames)
        if self.chunk_frames is not None and self.system not in CTC_SYSTEMS:
            raise ValueError(f"chunked training is implemented for {CTC_SYSTEMS} only")


# ---------------------------------------------------------------- helpers

def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def class_weight_vector(labels: np.ndarray, n_classes: int = N_EMOTIONS) -> np.ndarray:
    """n / (C * count_c): balanced weights (mean weight over samples = 1)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(n_classes)
    w[present] = len(labels) / (present.sum() * counts[present])
    return w


def stratified_split(labels: np.ndarray, fraction: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, valid); valid holds ~fraction of each class."""
    if fraction <= 0:
        return np.arange(len(labels)), np.array([], int)
    valid = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = int(round(fraction * len(idx)))
        if len(idx) >= 2:
            n = min(max(n, 1), len(idx) - 1)
        else:
            n = 0
        valid.extend(idx[:n])
    valid = np.sort(np.array(valid, int))
    train = np.setdiff1d(np.arange(len(labels)), valid)
    return train, valid


def length_batches(idx, lengths, batch_size: int, rng=None) -> list[np.ndarray]:
    """Batches of similar length. With rng: jittered sort, shuffled batch order."""
    idx = np.asarray(idx, int)
    keys = lengths[idx].astype(np.float64)
    if rng is not None:
        keys = keys * rng.uniform(0.9, 1.1, size=len(idx))
    order = idx[np.argsort(keys, kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


# ---------------------------------------------------------------- data

class Data:
    """Training tensors kept on cpu; batches are padded and moved on demand."""

    def __init__(self, samples, system: str, mean=None, std=None):
        self.system = system
        feats = [np.asarray(s.feats, np.float32) for s in samples]
        if system == "dnn":
            x = np.stack(feats)
            self.x = torch.from_numpy(((x - mean) / std).astype(np.float32))
            self.lengths = np.ones(len(feats), int)
        else:
            self.x = [torch.from_numpy(f) for f in feats]
            self.lengths = np.array([len(f) for f in feats], int)
        self.labels = np.array([int(s.label) for s in samples], int)
        self.target_lens = np.array([int(s.target_len) for s in samples], int)

    def batch(self, idx, device):
        idx = np.asarray(idx, int)
        lengths = torch.from_numpy(self.lengths[idx])
        if self.system == "dnn":
            x = self.x[torch.from_numpy(idx)]
        else:
            x = pad_sequence([self.x[i] for i in idx], batch_first=True)
        y = torch.from_numpy(self.labels[idx])
        k = torch.from_numpy(self.target_lens[idx])
        return x.to(device), lengths, y.to(device), k


# ---------------------------------------------------------------- model and loss

def build_model(cfg: FitConfig, input_dim: int) -> torch.nn.Module:
    if cfg.system in CTC_SYSTEMS:
        return CtcModel(input_dim, cfg.hidden, cfg.dropout, cfg.chunk_frames,
                        cfg.right_context_frames)
    if cfg.system == "dnn":
        return Dnn(input_dim, dropout=cfg.dropout)
    return PoolingModel(input_dim, cfg.system, cfg.hidden, cfg.dropout)


def per_sample_loss(system: str, logits, lengths, y, k) -> torch.Tensor:
    """Unweighted loss per utterance (B,), float32."""
    if system in CTC_SYSTEMS:
        logp = logits.float().log_softmax(-1).transpose(0, 1)      # (T, B, 5)
        targets = torch.repeat_interleave(y + 1, k.to(y.device))
        loss = F.ctc_loss(logp, targets, lengths, k, blank=0,
                          reduction="none", zero_infinity=True)
        return loss / k.to(loss.device).float()
    if system == "framewise":
        b, t, c = logits.shape
        frame = F.cross_entropy(logits.float().reshape(b * t, c),
                                y.repeat_interleave(t), reduction="none").view(b, t)
        mask = time_mask(lengths.to(frame.device), t).float()
        return (frame * mask).sum(1) / mask.sum(1)
    return F.cross_entropy(logits.float(), y, reduction="none")


def utterance_decisions(system: str, outs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Network outputs of many utterances -> (labels (n,) 0..3, scores (n, 4) summing to 1).

    CTC systems: one padded batch of logits through the numba batch decoder (Null = output 0).
    """
    if not outs:
        return np.zeros(0, int), np.zeros((0, N_EMOTIONS))
    if system in CTC_SYSTEMS:
        batch, lengths = decoder_kernels.pad(outs)
        labels, scores, _, _ = decoder_kernels.best_path_decisions(batch, lengths, 0, logits=True)
        return labels.astype(int), scores
    decided = [utterance_decision(system, o) for o in outs]
    return np.array([d[0] for d in decided], int), np.stack([d[1] for d in decided])


def utterance_decision(system: str, out: np.ndarray) -> tuple[int, np.ndarray]:
    """One utterance's output of a pooling, framewise or dnn system -> (label 0..3, scores (4,))."""
    if system in CTC_SYSTEMS:
        raise ValueError(f"{system}: CTC outputs are decoded in batches (utterance_decisions)")
    if system == "framewise":
        out = log_softmax_np(out).mean(0)
    p = softmax(np.asarray(out, np.float64)[None])[0]
    return int(p.argmax()), p


def log_softmax_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


# ---------------------------------------------------------------- amp

class Amp:
    """autocast on cuda (fp16 + GradScaler by default; cuDNN's LSTM autocast
    path is fp16, bf16 RNNs need a recent cuDNN); a no-op on cpu."""

    def __init__(self, device: torch.device, mode: str = "fp16"):
        if mode not in ("fp16", "bf16", "off"):
            raise ValueError(f"amp must be fp16, bf16 or off, not {mode!r}")
        self.on = device.type == "cuda" and mode != "off"
        self.dtype = torch.bfloat16 if mode == "bf16" else torch.float16
        self.scaler = None
        if self.on and self.dtype == torch.float16:
            self.scaler = torch.amp.GradScaler("cuda")

    def autocast(self):
        return torch.autocast("cuda", dtype=self.dtype, enabled=self.on)

    def step(self, loss, model, opt, clip: float) -> None:
        opt.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(opt)
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        self.scaler.step(opt)
        self.scaler.update()


# ---------------------------------------------------------------- forward passes

def forward_outputs(model, data: Data, idx, device, amp: Amp, batch_size: int):
    """Eval-mode forward -> (mean unweighted loss, per-sample numpy outputs in idx order)."""
    model.eval()
    outs: dict[int, np.ndarray] = {}
    total, n = 0.0, 0
    with torch.no_grad():
        for b in length_batches(idx, data.lengths, batch_size):
            x, lengths, y, k = data.batch(b, device)
            with amp.autocast():
                logits = model(x, lengths)
            total += per_sample_loss(data.system, logits, lengths, y, k).sum().item()
            n += len(b)
            logits = logits.float().cpu().numpy()
            for j, i in enumerate(b):
                outs[int(i)] = logits[j, :lengths[j]] if logits.ndim == 3 else logits[j]
    return total / max(n, 1), [outs[int(i)] for i in idx]


def hidden_stats(model: CtcModel, data: Data, idx, device, batch_size: int) -> np.ndarray:
    """Lee & Tashev utterance features: stats over time of BiLSTM outputs."""
    model.eval()
    feats: dict[int, np.ndarray] = {}
    with torch.no_grad():
        for b in length_batches(idx, data.lengths, batch_size):
            x, lengths, _, _ = data.batch(b, device)
            h = model.hidden_states(x, lengths).float().cpu().numpy()
            for j, i in enumerate(b):
                feats[int(i)] = utterance_stats(h[j, :lengths[j]])
    return np.stack([feats[int(i)] for i in idx])


# ---------------------------------------------------------------- fitted model

class Fitted:
    def __init__(self, model, cfg: FitConfig, history, device, norm=None, elm=None):
        self.model, self.cfg, self.history = model, cfg, history
        self.device, self.norm, self.elm = device, norm, elm

    @property
    def chunking(self) -> dict:
        """The chunk settings the model was trained with, as ModelConfig fields."""
        if self.cfg.chunk_frames is None:
            return dict(chunk_frames=None, right_context_frames=None)
        return dict(chunk_frames=self.cfg.chunk_frames,
                    right_context_frames=self.cfg.right_context_frames)

    def _data(self, samples) -> Data:
        mean, std = self.norm if self.norm is not None else (None, None)
        return Data(samples, self.cfg.system, mean, std)

    def predict(self, samples) -> tuple[np.ndarray, np.ndarray]:
        """-> (labels (n,), scores (n, 4) summing to 1)."""
        samples = list(samples)
        if not samples:
            return np.zeros(0, int), np.zeros((0, N_EMOTIONS))
        data = self._data(samples)
        idx = np.arange(len(samples))
        if self.cfg.system == "lee":
            stats = hidden_stats(self.model, data, idx, self.device, self.cfg.eval_batch_size)
            p = np.exp(log_softmax_np(self.elm.decision_function(stats)))
            return p.argmax(1), p
        _, outs = forward_outputs(self.model, data, idx, self.device, Amp(self.device, self.cfg.amp),
                                  self.cfg.eval_batch_size)
        return utterance_decisions(self.cfg.system, outs)

    def frame_posteriors(self, feats: np.ndarray) -> np.ndarray:
        """(T, D) -> (T, 5) CTC frame posteriors (index 0 = Null)."""
        if self.cfg.system not in CTC_SYSTEMS:
            raise ValueError("frame_posteriors is defined for ctc and lee only")
        self.model.eval()
        x = torch.from_numpy(np.asarray(feats, np.float32))[None].to(self.device)
        with torch.no_grad():
            logits = self.model(x, torch.tensor([x.shape[1]]))
        return torch.softmax(logits[0].float(), -1).cpu().numpy()

    def state_dict_numpy(self) -> dict[str, np.ndarray]:
        """Model weights as float32 numpy (plus elm.* for lee, norm.* for dnn)."""
        out = {k: v.detach().float().cpu().numpy() for k, v in self.model.state_dict().items()}
        if self.elm is not None:
            out.update(self.elm.state_numpy())
        if self.norm is not None:
            out["norm.mean"], out["norm.std"] = (np.asarray(a, np.float32) for a in self.norm)
        return out


# ---------------------------------------------------------------- training

@dataclass
class _Best:
    key: tuple = (-np.inf, -np.inf)
    epoch: int = -1
    state: dict = field(default_factory=dict)


def fit(cfg: FitConfig, train: list[Sample], progress: bool = True, log=print) -> Fitted:
    from tqdm import tqdm

    set_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = resolve_device(cfg.device)
    ddp = _setup_ddp(device) if distributed() else None
    if ddp is not None:
        device = ddp["device"]
    if device.type == "cpu":
        torch.set_num_threads(cfg.threads)

    norm = None
    if cfg.system == "dnn":
        x = np.stack([np.asarray(s.feats, np.float64) for s in train])
        norm = (x.mean(0).astype(np.float32), (x.std(0) + 1e-6).astype(np.float32))
    data = Data(train, cfg.system, *(norm or (None, None)))
    tr_idx, va_idx = stratified_split(data.labels, cfg.valid_fraction, rng)
    cw = class_weight_vector(data.labels[tr_idx]) if cfg.class_weights else np.ones(N_EMOTIONS)
    cw_t = torch.tensor(cw, dtype=torch.float32, device=device)

    input_dim = data.x.shape[1] if cfg.system == "dnn" else data.x[0].shape[1]
    model = build_model(cfg, input_dim).to(device)
    net = model if ddp is None else ddp["wrap"](model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    amp = Amp(device, cfg.amp)
    sampler = ddp["sampler"](tr_idx, cfg.seed) if ddp is not None else None
    show = progress and (ddp is None or ddp["rank"] == 0)

    history, best, stale, top = [], _Best(), 0, []
    bar = tqdm(range(cfg.epochs), file=sys.stderr, disable=not show, desc=cfg.system)
    for epoch in bar:
        t0 = time.perf_counter()
        local = tr_idx if sampler is None else _ddp_epoch_indices(sampler, tr_idx, epoch)
        loss = train_epoch(net, data, local, device, amp, opt, cw_t, cfg, rng)
        rec = dict(epoch=epoch, train_loss=loss)
        if len(va_idx):
            rec.update(validate(model, data, va_idx, device, amp, cfg))
            key = (rec["valid_uar"], -rec["valid_loss"])
            if cfg.average:
                top = sorted(top + [(key, epoch, copy.deepcopy(model.state_dict()))], key=lambda r: r[0],
                             reverse=True)[: cfg.average]
            if key > best.key:
                best = _Best(key, epoch, {} if cfg.average else copy.deepcopy(model.state_dict()))
                stale = 0
            else:
                stale += 1
        rec["seconds"] = time.perf_counter() - t0
        history.append(rec)
        bar.set_postfix({k: round(v, 3) for k, v in rec.items()
                         if k in ("train_loss", "valid_loss", "valid_uar")})
        if cfg.patience and stale >= cfg.patience:
            break
    bar.close()
    if top:
        model.load_state_dict(average_states([state for _, _, state in top]))
    elif best.state:
        model.load_state_dict(best.state)
    model.eval()

    elm = None
    if cfg.system == "lee":
        elm = fit_elm(model, data, tr_idx, va_idx, device, cfg, cw)
    if ddp is None or ddp["rank"] == 0:
        _log_summary(log, cfg, history, best)
    return Fitted(model, cfg, history, device, norm, elm)


def average_states(states: list[dict]) -> dict:
    """Checkpoint averaging: the element-wise mean of several state dicts."""
    return {k: sum(s[k].float() for s in states) / len(states) for k in states[0]}


def train_epoch(net, data: Data, idx, device, amp: Amp, opt, cw_t, cfg: FitConfig, rng) -> float:
    net.train()
    total, n = 0.0, 0
    for b in length_batches(idx, data.lengths, cfg.batch_size, rng):
        x, lengths, y, k = data.batch(b, device)
        with amp.autocast():
            logits = net(x, lengths)
        per = per_sample_loss(cfg.system, logits, lengths, y, k)
        w = cw_t[y]
        loss = (per * w).sum() / w.sum()
        amp.step(loss, net, opt, cfg.grad_clip)
        total += per.detach().sum().item()
        n += len(b)
    return total / max(n, 1)


def validate(model, data: Data, idx, device, amp: Amp, cfg: FitConfig) -> dict:
    loss, outs = forward_outputs(model, data, idx, device, amp, cfg.eval_batch_size)
    pred = utterance_decisions(cfg.system, outs)[0]
    return dict(valid_loss=loss, valid_uar=uar(data.labels[idx], pred))


def fit_elm(model, data: Data, tr_idx, va_idx, device, cfg: FitConfig, cw) -> Elm:
    """ELM on BiLSTM statistics; ridge term chosen on the validation split."""
    all_idx = np.arange(len(data.labels))
    stats = hidden_stats(model, data, all_idx, device, cfg.eval_batch_size)
    y = data.labels
    sw = cw[y]
    reg = cfg.elm_reg
    if len(va_idx):
        scores = []
        for r in cfg.elm_regs:
            elm = Elm(cfg.elm_hidden, r, cfg.seed).fit(stats[tr_idx], y[tr_idx], sw[tr_idx])
            scores.append(uar(y[va_idx], elm.predict(stats[va_idx])))
        reg = cfg.elm_regs[int(np.argmax(scores))]
    return Elm(cfg.elm_hidden, reg, cfg.seed).fit(stats, y, sw)


def _log_summary(log, cfg, history, best) -> None:
    if not history or log is None:
        return
    secs = sum(h["seconds"] for h in history)
    msg = f"[{cfg.system}] {len(history)} epochs in {secs:.1f}s"
    if best.epoch >= 0:
        h = history[best.epoch]
        msg += f"; best epoch {best.epoch} valid_uar={h['valid_uar']:.1f} valid_loss={h['valid_loss']:.3f}"
    log(msg)


# ---------------------------------------------------------------- multi-gpu (torchrun)

def _setup_ddp(device: torch.device) -> dict:
    """Only reached when WORLD_SIZE > 1 (torchrun)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data.distributed import DistributedSampler

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    ids = [local_rank] if device.type == "cuda" else None
    return dict(
        device=device, rank=dist.get_rank(),
        wrap=lambda m: DistributedDataParallel(m, device_ids=ids),
        sampler=lambda idx, seed: DistributedSampler(list(idx), shuffle=True, seed=seed),
    )


def _ddp_epoch_indices(sampler, tr_idx, epoch: int) -> np.ndarray:
    sampler.set_epoch(epoch)
    return np.asarray(tr_idx)[np.fromiter(iter(sampler), int)]
