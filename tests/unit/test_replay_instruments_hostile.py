"""A recording's non-finite prices never stop the engine from reading its instruments."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.daemon.external import _grid, replay_instruments
from cockpit.domain.market import LtpTick, decode_line, encode_line


@pytest.mark.parametrize("bad", ["Infinity", "-Infinity", "NaN", "sNaN"])
def test_non_finite_prices_are_left_out_of_the_grid(bad: str) -> None:
    assert _grid([Decimal("1500.05"), Decimal(bad)]) == Decimal("0.01")
    assert _grid([Decimal(bad)]) is None


@pytest.mark.parametrize("bad", ["Infinity", "NaN"])
def test_replay_with_a_non_finite_price_still_gives_the_instrument(
    tmp_path: Path, bad: str
) -> None:
    """The line decodes (a Decimal may be infinite); its price says nothing about the tick."""
    f = tmp_path / "r.jsonl"
    good = LtpTick(recv_ns=1, exchange="NSE", symbol="ZZ", ltp=Decimal("100.05"))
    hostile = f'{{"kind":"ltp","recv_ns":2,"exchange":"NSE","symbol":"ZZ","ltp":"{bad}"}}'
    assert decode_line(hostile).ltp.is_finite() is False
    f.write_bytes(encode_line(good) + b"\n" + hostile.encode() + b"\n")
    (inst,) = replay_instruments(f)
    assert inst.key == "NSE:ZZ"
    assert inst.tick_size == Decimal("0.01")
