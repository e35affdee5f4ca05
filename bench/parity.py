"""Parity of the native descriptors with openSMILE (ComParE_2016 and eGeMAPSv02 LLDs).

    python -m bench.parity [--limit N] [--corpus-dir DIR] [--out DIR] [--jobs J]

For every base descriptor of ours with an openSMILE counterart (`PAIRS`, the one mapping
table), the Pearson r over all frames of the corpus, pooled across files.

Method:
- openSMILE's `_sma` / `_sma3` columns are 3-frame moving averages, so ours are smoothed the
  same way (centred 3-frame mean, shrinking at the edges) before correlating; its `nz`
  columns (and ComParE's voicing-gated F0 / jitter / shimmer / HNR) average only non-zero
  (voiced) neighbours, and so do we for the voiced-only pairs.
- Frames are aligned by time: ours[t + lag] ↔ theirs[t]. ONE lag per openSMILE feature set
  is chosen by maximising the mean r of its non-voiced-only pairs on a few files
  (`choose_lags`); per-family best lags are reported as a diagnostic only.
- Voiced-only pairs use the frames voiced on both sides: ours f0_hz > 0, theirs
  F0final_sma > 0 (ComParE) or F0semitoneFrom27.5Hz_sma3nz > 0 (eGeMAPS).
- openSMILE outputs are cached as .npz per file under <out>/cache/ (keyed by file name,
  size, mtime and the opensmile version).
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

from bench import common  # sets the single-thread environment first

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

COMPARE = "ComParE_2016"
EGEMAPS = "eGeMAPSv02"
FEATURE_SETS = (COMPARE, EGEMAPS)
# Their voicing column per set (> 0 means voiced).
VOICING_COLUMN = {COMPARE: "F0final_sma", EGEMAPS: "F0semitoneFrom27.5Hz_sma3nz"}
OUR_VOICING = "f0_hz"
# Families with a goal (minimum r); the others are reported for information.
GOALS = {"cepstral": 0.95, "energy": 0.95, "loudness": 0.95, "spectral-shape": 0.95,
         "auditory": 0.95, "f0": 0.90}
LAG_CANDIDATES = tuple(range(-3, 4))


class Pair(NamedTuple):
    ours: str
    feature_set: str
    column: str
    family: str
    voiced_only: bool
    transform: str | None = None  # applied to ours before smoothing: "semitone" = 12*log2(f0/27.5)

    @property
    def key(self) -> str:
        return f"{self.ours}~{self.feature_set}"


def _pairs() -> tuple[Pair, ...]:
    c, e = COMPARE, EGEMAPS
    p = [
        # ComParE_2016 LLDs
        Pair("audspec_l1norm", c, "audspec_lengthL1norm_sma", "energy", False),
        Pair("audspec_rasta_l1norm", c, "audspecRasta_lengthL1norm_sma", "energy", False),
        Pair("rms_energy", c, "pcm_RMSenergy_sma", "energy", False),
        Pair("zcr", c, "pcm_zcr_sma", "energy", False),
        *[Pair(f"audspec_rasta_{i}", c, f"audSpec_Rfilt_sma[{i}]", "auditory", False) for i in range(26)],
        Pair("band_energy_250_650", c, "pcm_fftMag_fband250-650_sma", "spectral-shape", False),
        Pair("band_energy_1000_4000", c, "pcm_fftMag_fband1000-4000_sma", "spectral-shape", False),
        *[Pair(f"rolloff_{q}", c, f"pcm_fftMag_spectralRollOff{q}.0_sma", "spectral-shape", False)
          for q in (25, 50, 75, 90)],
        Pair("spectral_flux", c, "pcm_fftMag_spectralFlux_sma", "spectral-shape", False),
        Pair("spectral_centroid", c, "pcm_fftMag_spectralCentroid_sma", "spectral-shape", False),
        Pair("spectral_entropy", c, "pcm_fftMag_spectralEntropy_sma", "spectral-shape", False),
        Pair("spectral_variance", c, "pcm_fftMag_spectralVariance_sma", "spectral-shape", False),
        Pair("spectral_skewness", c, "pcm_fftMag_spectralSkewness_sma", "spectral-shape", False),
        Pair("spectral_kurtosis", c, "pcm_fftMag_spectralKurtosis_sma", "spectral-shape", False),
        Pair("spectral_harmonicity", c, "pcm_fftMag_spectralHarmonicity_sma", "spectral-shape", False),
        *[Pair(f"mfcc_{i}", c, f"mfcc_sma[{i}]", "cepstral", False) for i in range(1, 15)],
        Pair("f0_hz", c, "F0final_sma", "f0", True),
        Pair("voicing_prob", c, "voicingFinalUnclipped_sma", "voicing", False),
        Pair("jitter_local", c, "jitterLocal_sma", "voice-quality", True),
        Pair("jitter_ddp", c, "jitterDDP_sma", "voice-quality", True),
        Pair("shimmer_local", c, "shimmerLocal_sma", "voice-quality", True),
        Pair("log_hnr", c, "logHNR_sma", "voice-quality", True),
        # eGeMAPSv02 LLDs
        Pair("loudness", e, "Loudness_sma3", "loudness", False),
        Pair("alpha_ratio", e, "alphaRatio_sma3", "spectral-shape", False),
        Pair("hammarberg_index", e, "hammarbergIndex_sma3", "spectral-shape", False),
        Pair("slope_0_500", e, "slope0-500_sma3", "spectral-shape", False),
        Pair("slope_500_1500", e, "slope500-1500_sma3", "spectral-shape", False),
        Pair("spectral_flux", e, "spectralFlux_sma3", "spectral-shape", False),
        *[Pair(f"mfcc_{i}", e, f"mfcc{i}_sma3", "cepstral", False) for i in range(1, 5)],
        Pair("f0_hz", e, "F0semitoneFrom27.5Hz_sma3nz", "f0", True, "semitone"),
        Pair("log_hnr", e, "HNRdBACF_sma3nz", "voice-quality", True),
        Pair("h1_h2", e, "logRelF0-H1-H2_sma3nz", "voice-quality", True),
        Pair("h1_a3", e, "logRelF0-H1-A3_sma3nz", "voice-quality", True),
    ]
    for i in (1, 2, 3):
        p += [
            Pair(f"f{i}_freq", e, f"F{i}frequency_sma3nz", "formant", True),
            Pair(f"f{i}_bandwidth", e, f"F{i}bandwidth_sma3nz", "formant", True),
            Pair(f"f{i}_amplitude", e, f"F{i}amplitudeLogRelF0_sma3nz", "formant", True),
        ]
    return tuple(p)


#: The mapping: our base descriptor → (openSMILE feature set, its column, family, voiced only).
PAIRS: tuple[Pair, ...] = _pairs()


# ----------------------------------------------------------------------------- extraction

def _smile(feature_set: str):
    import opensmile

    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                           feature_level=opensmile.FeatureLevel.LowLevelDescriptors)


def _cache_path(cache_dir: Path, path: Path, feature_set: str) -> Path:
    import opensmile

    st = path.stat()
    return cache_dir / f"opensmile-{opensmile.__version__}" / feature_set / f"{path.stem}-{st.st_size}-{st.st_mtime_ns}.npz"


def opensmile_llds(path: Path, feature_set: str, cache_dir: Path | None = None) -> tuple[list[str], np.ndarray]:
    """openSMILE LLD columns and values (frames, columns) of one file, cached when cache_dir is set."""
    cp = _cache_path(cache_dir, path, feature_set) if cache_dir else None
    if cp is not None and cp.exists():
        with np.load(cp) as z:
            return [str(c) for c in z["columns"]], z["values"]
    df = _smile(feature_set).process_signal(common.load_16k(path), common.SAMPLE_RATE)
    cols, vals = [str(c) for c in df.columns], df.to_numpy(np.float64)
    if cp is not None:
        cp.parent.mkdir(parents=True, exist_ok=True)
        tmp = cp.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, columns=np.array(cols), values=vals)
        os.replace(tmp, cp)
    return cols, vals


def _fill_cache(args: tuple[Path, Path]) -> None:
    path, cache_dir = args
    for fs in FEATURE_SETS:
        opensmile_llds(path, fs, cache_dir)


def fill_cache(files: list[Path], cache_dir: Path, jobs: int = 1, progress: bool = True) -> None:
    todo = [p for p in files if not all(_cache_path(cache_dir, p, fs).exists() for fs in FEATURE_SETS)]
    if not todo:
        return
    bar = tqdm(total=len(todo), desc="openSMILE", unit="file", file=sys.stderr, disable=not progress)
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as ex:
            for _ in ex.map(_fill_cache, [(p, cache_dir) for p in todo], chunksize=4):
                bar.update()
    else:
        for p in todo:
            _fill_cache((p, cache_dir))
            bar.update()
    bar.close()


# ----------------------------------------------------------------------------- alignment

def smooth3(x: np.ndarray) -> np.ndarray:
    """Centred 3-frame moving average along axis 0 (window shrinks at the edges)."""
    x = np.asarray(x, np.float64)
    s = x.copy()
    cnt = np.ones(len(x))
    s[1:] += x[:-1]
    s[:-1] += x[1:]
    cnt[1:] += 1
    cnt[:-1] += 1
    return s / cnt


def smooth3_nz(x: np.ndarray) -> np.ndarray:
    """Like smooth3 but averaging only non-zero neighbours; zeros stay zero (openSMILE noZeroSma)."""
    x = np.asarray(x, np.float64)
    nz = (x != 0).astype(np.float64)
    s, c = x.copy(), nz.copy()
    s[1:] += x[:-1]
    s[:-1] += x[1:]
    c[1:] += nz[:-1]
    c[:-1] += nz[1:]
    return np.where(nz > 0, s / np.maximum(c, 1), 0.0)


class FileData:
    """One file's series per pair, smoothed, before alignment."""

    def __init__(self, path: Path, cache_dir: Path | None = None, ours: np.ndarray | None = None) -> None:
        from realtime_ser import features

        self.path = path
        if ours is None:
            ours = features.extract(common.load_16k(path), common.SAMPLE_RATE)[:, : len(features.BASE_NAMES)]
        idx = {n: i for i, n in enumerate(features.BASE_NAMES)}
        theirs = {fs: opensmile_llds(path, fs, cache_dir) for fs in FEATURE_SETS}
        f0 = ours[:, idx[OUR_VOICING]].astype(np.float64)
        self.ours_voiced = f0 > 0
        self.n_ours = len(ours)
        self.n_theirs = {fs: len(v) for fs, (_, v) in theirs.items()}
        self.theirs_voiced = {fs: v[:, cols.index(VOICING_COLUMN[fs])] > 0 for fs, (cols, v) in theirs.items()}
        self.x: dict[str, np.ndarray] = {}
        self.y: dict[str, np.ndarray] = {}
        for p in PAIRS:
            a = ours[:, idx[p.ours]].astype(np.float64)
            if p.transform == "semitone":
                a = np.where(f0 > 0, 12.0 * np.log2(np.maximum(f0, 1e-3) / 27.5), 0.0)
            if p.voiced_only:
                a = smooth3_nz(np.where(self.ours_voiced, a, 0.0))
            else:
                a = smooth3(a)
            cols, v = theirs[p.feature_set]
            self.x[p.key] = a
            self.y[p.key] = v[:, cols.index(p.column)]

    def span(self, feature_set: str, lag: int) -> tuple[slice, slice]:
        """Slices (ours, theirs) pairing ours[t + lag] with theirs[t]."""
        t0 = max(0, -lag)
        t1 = min(self.n_theirs[feature_set], self.n_ours - lag)
        t1 = max(t0, t1)
        return slice(t0 + lag, t1 + lag), slice(t0, t1)

    def aligned(self, pair: Pair, lag: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(ours, theirs, frames both voiced) on the frames used for this pair at this lag."""
        so, st = self.span(pair.feature_set, lag)
        both = self.ours_voiced[so] & self.theirs_voiced[pair.feature_set][st]
        x, y = self.x[pair.key][so], self.y[pair.key][st]
        if pair.voiced_only:
            x, y = x[both], y[both]
        return x, y, int(both.sum())


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3:
        return float("nan")
    x = x - x.mean()
    y = y - y.mean()
    d = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / d) if d > 0 else float("nan")


def pooled_r(data: list[FileData], pair: Pair, lag: int) -> tuple[float, int, int]:
    """(r, frames used, frames both voiced) over all files."""
    xs, ys, nv = [], [], 0
    for fd in data:
        x, y, v = fd.aligned(pair, lag)
        xs.append(x)
        ys.append(y)
        nv += v
    x, y = np.concatenate(xs), np.concatenate(ys)
    return pearson(x, y), int(x.size), nv


def lag_scores(data: list[FileData], pairs, lags=LAG_CANDIDATES) -> dict[int, float]:
    return {lag: float(np.nanmean([pooled_r(data, p, lag)[0] for p in pairs])) for lag in lags}


def choose_lags(data: list[FileData]) -> tuple[dict[str, int], dict]:
    """One lag per feature set (max mean r of its non-voiced-only pairs) + per-family diagnostics."""
    chosen, diag = {}, {"per_set": {}, "per_family_best": {}}
    for fs in FEATURE_SETS:
        pairs = [p for p in PAIRS if p.feature_set == fs and not p.voiced_only]
        scores = lag_scores(data, pairs)
        chosen[fs] = max(scores, key=scores.get)
        diag["per_set"][fs] = scores
        for fam in sorted({p.family for p in PAIRS if p.feature_set == fs}):
            fp = [p for p in PAIRS if p.feature_set == fs and p.family == fam]
            s = lag_scores(data, fp)
            diag["per_family_best"][f"{fs}/{fam}"] = {"lag": max(s, key=s.get), "mean_r": max(s.values())}
    return chosen, diag


def lag_files(files: list[Path], n: int = 6) -> list[Path]:
    """A few files spread over the (sorted) corpus, for the lag search."""
    if len(files) <= n:
        return list(files)
    return [files[round(i * (len(files) - 1) / (n - 1))] for i in range(n)]


def correlate(data: list[FileData], lags: dict[str, int]) -> list[dict]:
    rows = []
    for p in PAIRS:
        r, n, nv = pooled_r(data, p, lags[p.feature_set])
        goal = GOALS.get(p.family)
        rows.append({
            "descriptor": p.ours, "feature_set": p.feature_set, "column": p.column, "family": p.family,
            "voiced_only": p.voiced_only, "transform": p.transform, "lag": lags[p.feature_set],
            "frames": n, "frames_both_voiced": nv, "r": r, "goal": goal,
            "met": None if goal is None else bool(r >= goal),
        })
    return rows


def load_all(files: list[Path], cache_dir: Path | None, progress: bool = True) -> list[FileData]:
    return [FileData(p, cache_dir) for p in tqdm(files, desc="ours+align", unit="file", file=sys.stderr,
                                                   disable=not progress)]


# ----------------------------------------------------------------------------- report

def report(rows: list[dict], lags: dict[str, int], diag: dict, n_files: int, n_lag_files: int,
           voiced: dict[str, dict]) -> str:
    fam_rows = []
    for fs in FEATURE_SETS:
        for fam in dict.fromkeys(r["family"] for r in rows if r["feature_set"] == fs):
            rs = [r for r in rows if r["feature_set"] == fs and r["family"] == fam]
            goal = GOALS.get(fam)
            met = sum(bool(r["met"]) for r in rs)
            fam_rows.append([fs, fam, len(rs), float(np.nanmin([r["r"] for r in rs])),
                             float(np.nanmedian([r["r"] for r in rs])),
                             "—" if goal is None else f"≥ {goal}", "—" if goal is None else f"{met}/{len(rs)}"])
    table = [[f"`{r['descriptor']}`" + (" (semitones)" if r["transform"] == "semitone" else ""),
              f"`{r['column']}`", r["family"], r["frames"], r["r"],
              "—" if r["goal"] is None else f"≥ {r['goal']}",
              "—" if r["met"] is None else ("yes" if r["met"] else "**no**"),
              r["frames_both_voiced"]] for r in rows]
    lag_txt = ", ".join(f"{fs}: {lags[fs]:+d}" for fs in FEATURE_SETS)
    fam_lag = ", ".join(f"{k}: {v['lag']:+d}" for k, v in diag["per_family_best"].items())
    vtxt = "; ".join(
        f"{fs}: ours voiced {v['ours']}, theirs voiced {v['theirs']}, both {v['both']} of {v['frames']} aligned frames"
        for fs, v in voiced.items())
    goals = [r for r in rows if r["goal"] is not None]
    lines = [
        "## openSMILE parity (Pearson r, frames pooled over files)",
        "",
        f"{n_files} EmoDB files. Ours smoothed with a centred 3-frame moving average to match openSMILE's "
        "`_sma`/`_sma3` columns (voiced-only pairs: mean of voiced neighbours only, like its `noZeroSma`). "
        f"Alignment ours[t + lag] ↔ theirs[t], one lag per feature set chosen on {n_lag_files} files by the mean r "
        f"of its non-voiced-only pairs: **{lag_txt}**. Voiced-only rows use frames voiced on both sides "
        "(ours `f0_hz` > 0, theirs `F0final_sma` > 0 / `F0semitoneFrom27.5Hz_sma3nz` > 0).",
        "",
        f"Goals met: **{sum(bool(r['met']) for r in goals)}/{len(goals)}** descriptors with a goal.",
        "",
        common.md_table(["descriptor", "openSMILE column", "family", "frames used", "r", "goal", "met?",
                         "frames both voiced"], table),
        "",
        "### By family",
        "",
        common.md_table(["feature set", "family", "pairs", "min r", "median r", "goal", "met"], fam_rows),
        "",
        f"Voicing agreement: {vtxt}.",
        "",
        f"Lag search (mean r per lag): " + "; ".join(
            f"{fs}: " + ", ".join(f"{k:+d}: {v:.3f}" for k, v in s.items()) for fs, s in diag["per_set"].items()),
        "",
        f"Per-family best lag (diagnostic, not used): {fam_lag}.",
    ]
    return "\n".join(lines)


def voicing_summary(data: list[FileData], lags: dict[str, int]) -> dict[str, dict]:
    out = {}
    for fs in FEATURE_SETS:
        o = t = b = n = 0
        for fd in data:
            so, st = fd.span(fs, lags[fs])
            ov, tv = fd.ours_voiced[so], fd.theirs_voiced[fs][st]
            o += int(ov.sum()); t += int(tv.sum()); b += int((ov & tv).sum()); n += int(ov.size)
        out[fs] = {"ours": o, "theirs": t, "both": b, "frames": n}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.parity", description=__doc__.splitlines()[0])
    ap.add_argument("--corpus-dir", default=None, help=f"EmoDB root (default {common.DEFAULT_CORPUS})")
    ap.add_argument("--limit", type=int, default=None, help="only the first N files (sorted)")
    ap.add_argument("--out", type=Path, default=common.DEFAULT_OUT)
    ap.add_argument("--cache-dir", type=Path, default=None, help="openSMILE cache (default <out>/cache)")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="processes for openSMILE")
    args = ap.parse_args(argv)

    files = common.corpus_files(args.corpus_dir, args.limit)
    cache_dir = args.cache_dir or args.out / "cache"
    fill_cache(files, cache_dir, args.jobs)
    data = load_all(files, cache_dir)
    lf = set(lag_files(files))
    lags, diag = choose_lags([d for d in data if d.path in lf])
    rows = correlate(data, lags)
    voiced = voicing_summary(data, lags)
    md = report(rows, lags, diag, len(files), len(lf), voiced)
    print(md)
    common.write_outputs(args.out, "parity", {
        "files": len(files), "lag_files": sorted(p.name for p in lf), "lags": lags, "lag_search": diag,
        "voicing": voiced, "rows": rows, "environment": common.environment(),
        "smoothing": "centred 3-frame mean on ours (non-zero neighbours only for voiced-only pairs)",
    }, md)
    print(f"\nwrote {args.out / 'parity.json'} and {args.out / 'parity.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
