"""Sweeps of any ``stage__param`` grid on any preset; by default fan value x peak density.

python experiments/sweep.py --size full --workers 2
python experiments/sweep.py --preset hash-only --grid hasher__fan_value=5,15 --name fan_hash_only
python experiments/sweep.py --grid peaks__peaks_per_second=none,40,80 --name caps
python experiments/sweep.py --size full --plot-only

Without ``--grid`` it runs the study's three grids on the preset: the peaks found
per second against the amplitude threshold and cap (``peak_rates``), then the fan
value against the threshold with no cap (``sweep_fan_amp``: what the threshold
does when it alone decides the peaks) and against the cap at the preset's threshold
(``sweep_fan_cap``: how the default picks them). A grid value ``none`` is None (no
cap); values are read as numbers where they are numbers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from _common import load_corpus, output_dir, parser, save, save_figure, shared_legend

from dejavu_lab.core.cache import MemoryCache
from dejavu_lab.core.presets import get_preset
from dejavu_lab.studies import plots, sweep
from dejavu_lab.studies.sweeps import peak_rates

FAN_VALUES = [1, 2, 3, 5, 8, 10, 15, 20, 30]
#: Caps around the default's 80 a second, and none (query clips keep twice as many).
PEAKS_PER_SECOND = [40.0, 80.0, 160.0, None]
#: Thresholds where the number of peaks changes once nothing caps it (peak_rates.csv, 15
#: tracks: about 200 a second up to 0 dB, 95 at 30, 70 at 35, 38 at 40, 16 at 45).
AMP_MIN_DB = [30.0, 35.0, 40.0]
#: The study's grids, by the name of their results. The cap sweep keeps the preset's
#: -20 dB, where the threshold removes nothing; its no-cap rows are also the -20 dB rows
#: of the threshold sweep (drawn with it, not run twice). The threshold sweep takes every
#: other fan value, to fit the full corpus in an hour of a shared 2-core machine.
GRIDS: dict[str, dict[str, list[Any]]] = {
    "sweep_fan_cap": {
        "hasher__fan_value": FAN_VALUES,
        "peaks__amp_min_db": [-20.0],
        "peaks__peaks_per_second": PEAKS_PER_SECOND,
    },
    "sweep_fan_amp": {
        "hasher__fan_value": [1, 3, 8, 15, 30],
        "peaks__amp_min_db": AMP_MIN_DB,
        "peaks__peaks_per_second": [None],
    },
}
#: Figure width (in): at 100 dpi, under 1000 px with the saved margin.
WIDTH_IN = 9.8
#: Thresholds (dB) and caps of the peak-rate measurement.
RATE_THRESHOLDS_DB = [-20.0, -10.0, 0.0, 10.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 60.0]
RATE_CAPS: list[float | None] = [None, 20.0, 40.0, 80.0, 160.0]


def grid_value(text: str) -> Any:
    """A grid value from the command line: a number where it is one, ``none`` for None."""
    if text.lower() == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def grid_axis(text: str) -> tuple[str, list[Any]]:
    """``stage__param=v1,v2,...`` as (name, values)."""
    name, sep, values = text.partition("=")
    if not sep or "__" not in name or not values:
        raise argparse.ArgumentTypeError(f"expected stage__param=v1,v2,...; got {text!r}")
    return name, [grid_value(value) for value in values.split(",")]


def varying(grid: dict[str, list[Any]]) -> list[str]:
    """The axes of a grid with more than one value (the others are fixed settings)."""
    return [name for name, values in grid.items() if len(values) > 1]


def run_grid(
    name: str, grid: dict[str, list[Any]], args: argparse.Namespace, corpus: Any, executor: Any
) -> pd.DataFrame:
    """Sweep one grid, write its CSV (+ provenance) and print its table."""
    folder = output_dir(args)
    table = sweep(
        grid,
        corpus,
        base=args.preset,
        seconds=args.seconds,
        conditions=("clean", "laptop-mic"),
        n_per_unseen=args.n_per_unseen,
        seed=args.seed,
        cache=MemoryCache(),
        results_db=folder / "results.duckdb",
        progress=not args.quiet,
        executor=executor,
    )
    save(
        table.drop(columns=["params"]),
        folder,
        name,
        corpus,
        {"preset": args.preset, "grid": grid, "seconds": args.seconds, "seed": args.seed},
    )
    shown = [
        *varying(grid),
        *[c for c in table.columns if c.startswith("accuracy_pct_laptop")],
        "false_matches",
        "mb_per_track",
        "median_match_ms",
    ]
    print(f"\n{name} ({args.preset}):")
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return table


def plot_grid(table: pd.DataFrame, grid: dict[str, list[Any]], folder: Path, name: str) -> None:
    """Accuracy (Wilson bands), false matches, storage and match time over the grid's axes.

    The first varying axis is the horizontal axis; the second, if any, one line each.
    """
    axes_names = varying(grid)
    if not 1 <= len(axes_names) <= 2:
        print(f"{name}: no figure for {len(axes_names)} varying axes (1 or 2 are drawn)")
        return
    x = axes_names[0]
    hue = axes_names[1] if len(axes_names) == 2 else "grid"
    table = table.assign(grid=name)
    seconds = sorted({float(c.rpartition("_")[2][:-1]) for c in table if c.startswith("total_")})
    tags = [f"{condition}_{s:g}s" for condition in ("laptop-mic", "clean") for s in seconds]
    columns = len(seconds)
    fig, rows_of_axes = plt.subplots(
        3,
        columns,
        figsize=(WIDTH_IN, 7.6),
        squeeze=False,
        layout="constrained",
        sharex=True,
        gridspec_kw={"height_ratios": [1.0, 0.6, 1.0]},  # clean clips: near 100 % throughout
    )
    flat = [ax for row in rows_of_axes for ax in row]
    for ax, tag in zip(flat, tags, strict=False):
        plots.sweep_lines(table, x=x, y=f"accuracy_pct_{tag}", hue=hue, ax=ax)
    last_row = list(rows_of_axes[2])
    for ax, value in zip(
        last_row, ("false_match_pct", "mb_per_track", "median_match_ms"), strict=False
    ):
        plots.sweep_lines(table, x=x, y=value, hue=hue, ax=ax)
    for ax in flat:
        ax.set_title(ax.get_ylabel(), fontsize="medium")
        ax.set_ylabel("")
        if ax not in last_row:
            ax.set_xlabel("")
    shared_legend(fig, flat, ncols=6)
    fig.suptitle(f"{name}: {len(table)} settings", fontsize="medium")
    save_figure(fig, folder / f"{name}.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.2), layout="constrained")
    labels = tuple(axes_names)
    plots.pareto(
        table,
        x="bytes_per_track",
        y=f"accuracy_pct_{tags[0]}",
        label_columns=labels,
        log_x=True,
        ax=ax,
        title=f"{name}: storage against accuracy",
    )
    save_figure(fig, folder / f"{name}_pareto.png")
    plt.close(fig)


def with_shared_rows(
    name: str, grid: dict[str, list[Any]], tables: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """The rows of sweep ``name``, plus those of the other sweeps at its fixed values and
    horizontal-axis values: more lines (the cap sweep's no-cap rows are the threshold
    sweep's -20 dB line)."""
    rows = [tables[name]]
    for other, table in tables.items():
        if other == name or not set(grid) <= set(table.columns):
            continue
        x_axis = varying(grid)[:1]
        keep = pd.Series(True, index=table.index)
        for key, values in grid.items():
            if len(values) == 1 and values[0] is None:
                keep &= table[key].isna()
            elif len(values) == 1 or key in x_axis:
                keep &= table[key].isin(values)
        rows.append(table[keep])
    return pd.concat(rows, ignore_index=True).drop_duplicates(list(grid))


def plot_rates(table: pd.DataFrame, folder: Path) -> None:
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.8), layout="constrained")
    plots.peak_rates(table, ax=ax, title="peaks found per second, reference tracks")
    save_figure(fig, folder / "peak_rates.png")
    plt.close(fig)


def main() -> None:
    p = parser(__doc__ or "", presets=False)
    p.add_argument("--preset", default="default", help="preset giving the parameters not swept")
    p.add_argument(
        "--grid",
        nargs="+",
        type=grid_axis,
        default=None,
        metavar="STAGE__PARAM=V1,V2",
        help="one grid of these axes instead of the study's grids (needs --name)",
    )
    p.add_argument("--name", default=None, help="file name of the results of --grid")
    p.add_argument("--seconds", nargs="+", type=float, default=[1.0, 2.0, 3.0])
    p.add_argument("--n-per-unseen", type=int, default=2, help="clips per unseen track and length")
    p.add_argument("--workers", type=int, default=1, help="Dask worker processes (1: this one)")
    p.add_argument("--skip-rates", action="store_true", help="do not measure peak_rates")
    p.add_argument(
        "--rate-tracks", type=int, default=15, help="reference tracks peak_rates reads (first N)"
    )
    p.add_argument("--plot-only", action="store_true", help="redraw the figures from the CSVs")
    args = p.parse_args()
    get_preset(args.preset)  # an unknown name fails before the corpus is decoded
    if args.grid is not None and args.name is None:
        p.error("--grid needs --name")
    grids = {args.name: dict(args.grid)} if args.grid is not None else dict(GRIDS)
    folder = output_dir(args)
    if args.plot_only:
        if args.grid is None and (folder / "peak_rates.csv").exists():
            plot_rates(pd.read_csv(folder / "peak_rates.csv"), folder)
        tables = {name: pd.read_csv(folder / f"{name}.csv") for name in grids}
        for name in grids:
            provenance = json.loads((folder / f"{name}.provenance.json").read_text())
            grid = json.loads(provenance["params"])["grid"]
            plot_grid(with_shared_rows(name, grid, tables), grid, folder, name)
        return
    corpus = load_corpus(args)
    if args.grid is None and not args.skip_rates:
        rates = peak_rates(
            corpus,
            amp_min_db=RATE_THRESHOLDS_DB,
            peaks_per_second=RATE_CAPS,
            base=args.preset,
            max_tracks=args.rate_tracks,
        )
        params = {"preset": args.preset, "tracks": args.rate_tracks}
        save(rates, folder, "peak_rates", corpus, params)
        print(rates.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        plot_rates(rates, folder)
    client = cluster = None
    if args.workers > 1:
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=0,
            dashboard_address=None,
        )
        client = Client(cluster)
    try:
        tables = {name: run_grid(name, grid, args, corpus, client) for name, grid in grids.items()}
    finally:
        if client is not None:
            client.close()
            cluster.close()  # type: ignore[union-attr]
    for name, grid in grids.items():
        plot_grid(with_shared_rows(name, grid, tables), grid, folder, name)


if __name__ == "__main__":
    main()
