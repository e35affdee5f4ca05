"""Normalising corpora the way streams are served: one stream per utterance, per session, per emotion.

The frames always go through realtime_ser.normalize.Normalizer, the object the engine uses,
so training and serving compute the same numbers. What differs is what a stream is:

* ``global``: the training data's statistics, no adaptation (models before adaptation);
* ``utterance``: each utterance is a fresh stream starting from the prior;
* ``session``: a speaker's utterances in a shuffled (balanced) order, one stream, carried;
* ``emotion``: a speaker's utterances of one emotion as one stream (a long angry call), one
  stream per emotion: the failure mode of adaptation;
* ``speaker``: the speaker's own speech statistics from all of their audio, fixed (an
  upper bound: not causal).

Training streams are sessions of each training speaker in a shuffled order, reset before an
utterance with probability ``reset_prob``, so the model sees fresh and adapted states alike.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from realtime_ser import features
from realtime_ser.normalize import NormConfig, Normalizer, group_of, speech_stats

CONDITIONS = ("global", "utterance", "session", "emotion", "speaker")


def prior(cfg: NormConfig, train_arrays: list[np.ndarray]) -> NormConfig:
    """cfg with its prior set from the training data's speech frames."""
    mean, std = speech_stats(train_arrays, features.NAMES)
    return replace(cfg, speech_mean=mean.tolist(), speech_std=std.tolist())


def _by_speaker(utts) -> dict[str, list]:
    out: dict[str, list] = {}
    for u in utts:
        out.setdefault(u.speaker, []).append(u)
    return out


def _stream(norm: Normalizer, utts, inputs, out: dict) -> None:
    for u in utts:
        out[u.utt_id] = norm.process(inputs[u.utt_id])


def normalise(utts, inputs: dict, cfg: NormConfig, mean, std, condition: str, seed: int = 0) -> dict:
    """utt_id -> normalised frames of held-out utterances under one condition."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}: expected one of {', '.join(CONDITIONS)}")
    names = features.NAMES
    rng = np.random.default_rng(seed)
    out: dict = {}
    if condition == "global":
        _stream(Normalizer(NormConfig(), names, mean, std), utts, inputs, out)
        return out
    for spk, group in sorted(_by_speaker(utts).items()):
        if condition == "utterance":
            norm = Normalizer(cfg, names, mean, std)
            for u in group:
                norm.reset()
                _stream(norm, [u], inputs, out)
        elif condition == "session":
            order = [group[i] for i in rng.permutation(len(group))]
            _stream(Normalizer(cfg, names, mean, std), order, inputs, out)
        elif condition == "emotion":
            for label in sorted({u.label for u in group}):
                block = [u for u in group if u.label == label]
                block = [block[i] for i in rng.permutation(len(block))]
                _stream(Normalizer(cfg, names, mean, std), block, inputs, out)
        else:  # speaker: own statistics where cfg adapts, the prior elsewhere
            _stream(Normalizer(_own_stats(cfg, [inputs[u.utt_id] for u in group]), names, mean, std),
                    group, inputs, out)
    return out


def _own_stats(cfg: NormConfig, arrays) -> NormConfig:
    own_mean, own_std = speech_stats(arrays, features.NAMES)
    adapt = np.array([group_of(n) in cfg.groups for n in features.NAMES])
    m = np.where(adapt, own_mean, cfg.speech_mean)
    s = np.where(adapt, own_std, cfg.speech_std)
    return replace(cfg, speech_mean=m.tolist(), speech_std=s.tolist(), weight=0.0)


def normalise_train(utts, inputs: dict, cfg: NormConfig, mean, std, seed: int = 0,
                    reset_prob: float = 0.25) -> dict:
    """utt_id -> normalised frames of training utterances, as streams are served."""
    if cfg.mode == "global":
        return normalise(utts, inputs, cfg, mean, std, "global")
    names = features.NAMES
    rng = np.random.default_rng(seed + 7919)
    out: dict = {}
    for spk, group in sorted(_by_speaker(utts).items()):
        norm = Normalizer(cfg, names, mean, std)
        for i in rng.permutation(len(group)):
            if rng.random() < reset_prob:
                norm.reset()
            _stream(norm, [group[i]], inputs, out)
    return out


def add_args(p) -> None:
    """The normalisation options of training.evaluate, training.train and training.reference."""
    from realtime_ser.normalize import GROUPS

    d = NormConfig()
    p.add_argument("--norm", choices=("global", "adaptive"), default="global",
                   help="input normalisation: the training data's statistics, or per-stream adaptation")
    p.add_argument("--groups", default=",".join(d.groups), help=f"adaptive: what adapts, from {','.join(GROUPS)}")
    p.add_argument("--tau-s", type=float, default=d.tau_s, help="adaptive: time constant, seconds of speech")
    p.add_argument("--prior-s", type=float, default=d.prior_s, help="adaptive: weight of the prior, seconds")
    p.add_argument("--weight", type=float, default=d.weight, help="adaptive: share of the stream's statistics")
    p.add_argument("--no-scale", action="store_true", help="adaptive: adapt the means only")


def config_from_args(args) -> NormConfig:
    cfg = NormConfig(mode=args.norm, groups=[g for g in args.groups.split(",") if g], tau_s=args.tau_s,
                     prior_s=args.prior_s, weight=args.weight, scale=not args.no_scale)
    if cfg.mode == "adaptive":
        _validate_settings(cfg)
    return cfg


def _validate_settings(cfg: NormConfig) -> None:
    """Validate everything but the prior, which training fills in."""
    probe = replace(cfg, speech_mean=[0.0], speech_std=[1.0])
    probe.validate(None)
