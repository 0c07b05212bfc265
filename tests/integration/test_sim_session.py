"""A paper exchange killed and started again the same day keeps its session's reference prices.

A trader's change from the previous close must not change because the engine (and with it
the paper exchange) crashed: the previous close, open, high and low of every instrument are
kept with the account (``sess`` records) and restored on a restart the same day.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cockpit.sim.server import PRICE_SAVE_S
from tests.integration.test_sim_accounts import SimProc, _price, sims  # noqa: F401 - fixture

REFS = ("prev_close", "open", "high", "low")


def refs(sim: SimProc, symbol: str) -> dict[str, Any]:
    status, answer = sim.post("api/v1/quotes", exchange="NSE", symbol=symbol)
    assert status == 200, answer
    return {k: answer["data"][k] for k in REFS}


def test_a_restart_keeps_previous_close_open_high_and_low(
    tmp_path: Path,
    sims: list[SimProc],  # noqa: F811 - the fixture
) -> None:
    state = tmp_path / "paper"
    sim = SimProc(tmp_path, "--state-dir", str(state)).start()
    sims.append(sim)
    _price(sim, "800.00")
    sim.order(quantity="2")  # a position: the market resumes at its last price
    for ltp in ("812.00", "790.00", "801.00"):  # a new high and a new low
        _price(sim, ltp)
    sbin, infy = refs(sim, "SBIN"), refs(sim, "INFY")
    assert (sbin["high"], sbin["low"]) == (812, 790)
    time.sleep(PRICE_SAVE_S + 0.5)  # the once-a-second save; then a crash
    sim.kill()

    # Started again with another random session (what an unseeded start gets).
    again = SimProc(tmp_path, "--state-dir", str(state), "--seed", "5").start()
    sims.append(again)
    assert refs(again, "SBIN") == sbin
    assert refs(again, "INFY") == infy  # no position there: its session is kept too
    status, answer = again.post("api/v1/quotes", exchange="NSE", symbol="SBIN")
    assert answer["data"]["ltp"] == 801
