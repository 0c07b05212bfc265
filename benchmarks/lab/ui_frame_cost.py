"""CPU per frame of the real TUI app, headless (Textual's run_test at 160×48, no terminal).

An in-memory link hands the app one market batch per frame: every one of ``--symbols``
watchlist symbols moves (price, volume, bid/ask), the selected one with a new book. The app
applies it and paints; then the next comes. Prints the process CPU (all threads) per frame,
the frames painted and the grid rows re-rendered per frame. CPU time, not wall time: a
shared host slows it but hardly changes the figure.

``--positions N``: the first N symbols hold a position with a stop each; ``--exits K``: each
frame also carries K exits (the exit fired, its fill, the position flat, then the re-entry's
fill and the position again, as a gap through stops does: three notices each).
``--variants`` runs the app once per variant, in turn, ``--rounds`` times, in the same run:
``default``; ``toasts_all`` (every notice a toast, ``[ui] toasts_per_s`` 0); ``bare_lines``
(the grids' rows go to the compositor as they are, without Textual's per-line styling step:
borders, padding, background and line filters; a wrong picture, but what that step costs).

    python3 benchmarks/lab/ui_frame_cost.py [--symbols 50] [--frames 600]
    python3 benchmarks/lab/ui_frame_cost.py --positions 50 --exits 5 \\
        --variants default,toasts_all --rounds 2
    python3 benchmarks/lab/ui_frame_cost.py --code /tmp/before   # another tree's app (A/B)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def run(
    symbols: int, frames: int, positions: int = 0, exits: int = 0, variant: str = "default"
) -> dict[str, float]:
    from cockpit.domain.feed import FeedState, FeedStatus
    from cockpit.link import protocol as p
    from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
    from cockpit.ui.link import MemoryLink
    from cockpit.ui.widgets.grid import LineGrid

    keys = [f"NSE:SYM{i:03d}" for i in range(symbols)]
    tick = Decimal("0.05")
    insts = [p.InstrumentView(k, "NSE", k[4:], tick, Decimal(1), 2) for k in keys]
    base = {k: 20_000 + 37 * i for i, k in enumerate(keys)}

    def quote(k: str, ltp: int, n: int) -> p.QuoteView:
        return p.QuoteView(
            key=k,
            recv_ns=time.time_ns(),
            ltp=ltp,
            close=base[k] - 20,
            volume=Decimal(100_000 + n * 7),
            bid=ltp - 1,
            ask=ltp + 1,
            bid_qty=Decimal(500 + n % 50),
            ask_qty=Decimal(300 + n % 40),
            ticks=n,
        )

    def book(k: str, ltp: int, n: int) -> p.BookView:
        return p.BookView(
            k,
            [(ltp - 1 - i, Decimal(100 + (n + i) % 90), 1) for i in range(20)],
            [(ltp + 1 + i, Decimal(80 + (n * 3 + i) % 70), 1) for i in range(20)],
        )

    def position(k: str, qty: int) -> p.PositionView:
        return p.PositionView(k, Decimal(qty), base[k] * tick, Decimal(0), Decimal(0), ltp=base[k])

    def plan(k: str) -> p.PlanView:
        return p.PlanView(k, "long", Decimal(1), entry=base[k], stop=base[k] - 20, initial_risk=20)

    held = keys[:positions]

    def gap(n: int) -> list[p.Msg]:
        """K exits: fired, filled, flat, then bought again (three notices each)."""
        out: list[p.Msg] = []
        for j in range(exits if held else 0):
            k = held[(n * exits + j) % len(held)]
            ts = time.time_ns()
            px = (base[k] - 20) * tick
            out += [
                p.ExitFired(seq=0, key=k, reason="stop", level=base[k] - 20, price=base[k] - 21,
                            cid=f"x{n}-{j}"),
                p.FillEvent(seq=0, fill=p.FillView(f"x{n}-{j}", k, "SELL", Decimal(1), px, ts)),
                p.PositionEvent(seq=0, position=position(k, 0)),
                p.PlanEvent(seq=0, plan=plan(k), removed=True),
                p.FillEvent(seq=0, fill=p.FillView(f"e{n}-{j}", k, "BUY", Decimal(1), px, ts)),
                p.PositionEvent(seq=0, position=position(k, 1)),
                p.PlanEvent(seq=0, plan=plan(k)),
            ]  # fmt: skip
        return out

    now = time.time_ns()
    snap = p.Snapshot(
        seq=1,
        instruments=insts,
        quotes=[quote(k, base[k], 0) for k in keys],
        books=[book(keys[0], base[keys[0]], 0)],
        watchlist=keys,
        positions=[position(k, 1) for k in keys[:positions]],
        plans=[plan(k) for k in keys[:positions]],
        orders=[],
        fills=[],
        feeds=[FeedStatus("openalgo", FeedState.LIVE, now)],
        status=p.StatusView(venue="paper", armed=True, day_pnl=Decimal(0)),
    )
    link = MemoryLink()
    link.feed(
        p.Welcome(version=p.PROTOCOL_VERSION, engine_pid=1, profile="default", venue="paper"), snap
    )
    options = UiOptions(remember=False, fps=1000)
    if variant == "bare_lines":

        def bare(self: LineGrid, crop: Any) -> list[Any]:
            return [self.render_line(y) for y in range(crop.y, crop.bottom)]

        LineGrid.render_lines = bare  # type: ignore[method-assign]
    if variant == "toasts_all":
        options.toast_rate = 0
    app = CockpitApp(StaticConnector(link), options)
    out: dict[str, float] = {}

    async def main() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            while app.batches_applied < 1:
                await pilot.pause(0.05)
            await pilot.pause(0.5)
            grids = list(app.screen.query(LineGrid))
            rows0 = sum(g.rows_rendered for g in grids)
            cpu0, t0 = time.process_time(), time.monotonic()
            for n in range(1, frames + 1):
                before = app.batches_applied
                moved = [quote(k, base[k] + (n + i) % 7 - 3, n) for i, k in enumerate(keys)]
                link.feed(
                    p.MarketBatch(
                        seq=n + 1, quotes=moved, books=[book(keys[0], moved[0].ltp or 0, n)]
                    ),
                    *gap(n),
                )
                while app.batches_applied == before:  # noqa: ASYNC110 - the app's counter
                    await asyncio.sleep(0.0005)
                await pilot.pause()  # painted (the pump waits for that too)
            cpu = time.process_time() - cpu0
            out.update(
                variant=variant,
                positions=positions,
                exits_per_frame=exits,
                live_toasts=len(app._notifications),  # noqa: SLF001 - Textual's own
                symbols=symbols,
                frames=frames,
                cpu_ms_per_frame=round(1000 * cpu / frames, 3),
                wall_ms_per_frame=round(1000 * (time.monotonic() - t0) / frames, 3),
                rows_by_grid={type(g).__name__: g.rows_rendered for g in grids},
                rows_rendered_per_frame=round(
                    (sum(g.rows_rendered for g in grids) - rows0) / frames, 1
                ),
            )

    asyncio.run(main())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--positions", type=int, default=0, help="symbols holding a position")
    ap.add_argument("--exits", type=int, default=0, help="exits (and re-entries) per frame")
    ap.add_argument("--variants", default="default", help="default,toasts_all,bare_lines")
    ap.add_argument("--rounds", type=int, default=1, help="the variants this many times over")
    ap.add_argument("--code", help="run the app from the package in this directory instead")
    opts = ap.parse_args()
    variants = opts.variants.split(",")
    if opts.code or len(variants) > 1 or opts.rounds > 1:  # each app in a process of its own
        env = dict(os.environ)
        if opts.code:
            env["PYTHONPATH"] = f"{opts.code}:{REPO}"
        for _ in range(opts.rounds):
            for variant in variants:
                argv = [sys.executable, __file__, "--variants", variant]
                for name in ("symbols", "frames", "positions", "exits"):
                    argv += [f"--{name}", str(getattr(opts, name))]
                done = subprocess.run(argv, env=env, check=False)
                if done.returncode:
                    return done.returncode
        return 0
    print(json.dumps(run(opts.symbols, opts.frames, opts.positions, opts.exits, variants[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
