"""The paper account on disk: orders, fills, positions and funds survive a restart.

One append-only JSON-lines file (``paper.jsonl``) in a private state directory, written on
every order change (before the client hears of it) and replayed at start:

- ``{"k": "head", "v": 1, "day": "2026-12-06", "capital": "10000000"}`` first;
- ``{"k": "pos", "key": "NSE:SBIN", "product": "MIS", "net": 5, "avg": [n, d]}``: a
  position carried into the day (its average as an exact fraction of ticks);
- ``{"k": "order", ...}``: an order's state after a change (the last one wins);
- ``{"k": "trade", ...}``: one fill; positions and realized P&L are rebuilt by replaying
  them over the carried positions, with the same arithmetic as the live account;
- ``{"k": "px", "key": ..., "ltp": ticks}``: a last price, so the market resumes there;
- ``{"k": "sess", "key": ..., "pc": ticks, "o": ..., "h": ..., "l": ...}``: the session's
  previous close, open, high and low, so a restart the same day keeps every instrument's
  change from the previous close (a new day starts a new session).

Each line is one ``write`` on an ``O_APPEND`` descriptor: a SIGKILL of the process loses
nothing already answered (the kernel has it); a torn last line from a power cut is skipped.
At start the file is compacted; on a new day (IST) the carried positions keep their average,
the day's realized P&L moves into the capital, and the day's orders and fills are dropped.
A lock file keeps two paper exchanges off one account.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from cockpit.sim.orders import WORKING, Order, Position, Trade
from cockpit.sim.universe import IST

if TYPE_CHECKING:
    from cockpit.sim.exchange import PaperExchange

log = logging.getLogger(__name__)

STATE_FILE: Final = "paper.jsonl"
LOCK_FILE: Final = "paper.lock"
VERSION: Final = 1
_ENC: Final = msgspec.json.Encoder()
_DEC: Final = msgspec.json.Decoder()


class StateLocked(OSError):
    """Another paper exchange holds this state directory."""


def _today() -> str:
    return dt.datetime.now(IST).date().isoformat()


def private_dir(path: Path) -> Path:
    """Create ``path`` 0700 (parents too) and refuse one that is another user's or a symlink."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.lstat()
    if path.is_symlink() or st.st_uid != os.getuid():
        raise PermissionError(f"{path} is a symlink or another user's; not keeping state there")
    if st.st_mode & 0o077:
        path.chmod(0o700)
    return path


def _holder(fd: int) -> int | None:
    """The pid the lock's holder wrote into the lock file (None: unknown or unreadable)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class AccountStore:
    """The state file of one paper account, open and locked for this process."""

    def __init__(self, directory: Path, lock_wait_s: float = 10.0) -> None:
        self.dir = private_dir(Path(directory))
        self.path = self.dir / STATE_FILE
        self._lock_fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + lock_wait_s
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # The previous paper exchange (its engine just died) may still be stopping.
                if time.monotonic() > deadline:
                    holder = _holder(self._lock_fd)
                    os.close(self._lock_fd)
                    raise StateLocked(
                        f"another paper exchange is using {self.dir} (lock {LOCK_FILE}"
                        + (f", pid {holder}; stop it: kill {holder})" if holder else ")")
                    ) from None
                time.sleep(0.05)
        # The holder's pid, for the message of the next one that finds the account taken.
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = None
        self._trades_saved = 0
        self._px: dict[str, int] = {}
        self._sess: dict[str, tuple[int, int, int, int]] = {}
        """The session's reference prices as last written, per instrument."""
        self.opening: dict[tuple[str, str], tuple[int, Fraction]] = {}
        """The positions carried into the day; today's fills replay on top of them."""
        self.write_errors = 0
        self._unreadable = 0

    # -- loading -------------------------------------------------------------------------------

    def load(self, exchange: PaperExchange) -> dict[str, int]:
        """Rebuild ``exchange``'s account from the file, compact it, and start appending.

        Returns counts of what was restored (``orders``, ``trades``, ``positions``,
        ``skipped`` lines).
        """
        lines = self._read()
        today = _today()
        head = next((r for r in lines if r.get("k") == "head"), None)
        counts = {"orders": 0, "trades": 0, "positions": 0, "skipped": self._unreadable}
        if head is not None:
            with contextlib.suppress(ArithmeticError, ValueError, TypeError):
                exchange.capital = Decimal(str(head["capital"]))
        market = exchange.market
        orders: dict[str, Order] = {}
        sessions: dict[str, tuple[int, int, int, int]] = {}
        for rec in lines:
            kind = rec.get("k")
            try:
                if kind == "pos":
                    state = market.states.get(rec["key"])
                    if state is None:
                        counts["skipped"] += 1
                        continue
                    num, den = rec["avg"]
                    net, avg = int(rec["net"]), Fraction(int(num), int(den))
                    product = str(rec["product"])
                    exchange.positions[(state.key, product)] = Position(state, product, net, avg)
                    self.opening[(state.key, product)] = (net, avg)
                elif kind == "order":
                    order = _order(rec, market.states)
                    if order is None:
                        counts["skipped"] += 1
                        continue
                    orders[order.orderid] = order
                elif kind == "px":
                    self._px[str(rec["key"])] = int(rec["ltp"])
                elif kind == "sess":
                    ref = (int(rec["pc"]), int(rec["o"]), int(rec["h"]), int(rec["l"]))
                    if min(ref) > 0:
                        sessions[str(rec["key"])] = ref
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                counts["skipped"] += 1
        exchange.orders.update(orders)
        for rec in lines:
            if rec.get("k") != "trade":
                continue
            order = orders.get(str(rec.get("order")))
            if order is None:
                counts["skipped"] += 1
                continue
            try:
                trade = Trade(
                    str(rec["id"]), order, int(rec["price"]), int(rec["steps"]), str(rec["ts"])
                )
            except (KeyError, TypeError, ValueError):
                counts["skipped"] += 1
                continue
            exchange.trades.append(trade)
            exchange.position(order.state, order.product).fill(order.side, trade.price, trade.steps)
        now = time.time_ns()
        for key, ltp in self._px.items():
            state = market.states.get(key)
            if state is not None and ltp > 0:
                state.set_price(ltp, now)
        if head is not None and head.get("day") != today:
            self._roll_day(exchange)
        else:
            for key, (pc, open_, high, low) in sessions.items():
                state = market.states.get(key)
                if state is not None:
                    state.prev_close, state.open = pc, open_
                    state.high, state.low = max(high, state.ltp), min(low, state.ltp)
            for order in exchange.orders.values():
                if order.status in WORKING:
                    exchange.working.setdefault(order.state.key, []).append(order)
        exchange.restore_ids()
        counts["orders"] = len(exchange.orders)
        counts["trades"] = len(exchange.trades)
        counts["positions"] = sum(1 for p in exchange.positions.values() if p.net)
        self._compact(exchange, today)
        return counts

    def _read(self) -> list[dict[str, Any]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out: list[dict[str, Any]] = []
        for number, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = _DEC.decode(line)
            except msgspec.DecodeError:
                log.warning("%s line %d is not JSON (a torn write?); skipped", self.path, number)
                self._unreadable += 1
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def _roll_day(self, exchange: PaperExchange) -> None:
        """A new day: realized P&L into capital, positions carried, the day's orders gone."""
        exchange.capital = Decimal(exchange.capital) + _money_decimal(exchange.realized())
        for pos in exchange.positions.values():
            pos.realized = Fraction(0)
        exchange.positions = {k: p for k, p in exchange.positions.items() if p.net}
        self.opening = {k: (p.net, p.avg) for k, p in exchange.positions.items()}
        exchange.orders.clear()
        exchange.trades.clear()
        exchange.working.clear()

    def _compact(self, exchange: PaperExchange, today: str) -> None:
        """Rewrite the file as the account stands, then append to it from here on."""
        records: list[dict[str, Any]] = [
            {"k": "head", "v": VERSION, "day": today, "capital": str(exchange.capital)}
        ]
        records += _position_records(self.opening)
        records += [_order_record(o) for o in exchange.orders.values()]
        records += [_trade_record(t) for t in exchange.trades]
        for key, state in exchange.market.states.items():
            if key in self._px or any(k == key for k, _ in exchange.positions):
                records.append({"k": "px", "key": key, "ltp": state.ltp})
                self._px[key] = state.ltp
        records += self._session_records(exchange)
        tmp = self.path.with_name(STATE_FILE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"".join(_ENC.encode(r) + b"\n" for r in records))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND, 0o600)
        self._trades_saved = len(exchange.trades)

    # -- writing -------------------------------------------------------------------------------

    def record(self, exchange: PaperExchange, order: Order) -> None:
        """Append the fills since the last call, ``order``'s state and its last price."""
        parts = [_ENC.encode(_trade_record(t)) for t in exchange.trades[self._trades_saved :]]
        parts.append(_ENC.encode(_order_record(order)))
        state = order.state
        if self._px.get(state.key) != state.ltp:
            self._px[state.key] = state.ltp
            parts.append(_ENC.encode({"k": "px", "key": state.key, "ltp": state.ltp}))
        if self._write(b"".join(p + b"\n" for p in parts)):
            self._trades_saved = len(exchange.trades)

    def record_prices(self, exchange: PaperExchange) -> None:
        """Append the last price of every instrument with an open position, if it moved, and
        the session's high and low of any instrument that made a new one."""
        parts = []
        for (key, _product), pos in exchange.positions.items():
            if not pos.net:
                continue
            ltp = pos.state.ltp
            if self._px.get(key) != ltp:
                self._px[key] = ltp
                parts.append(_ENC.encode({"k": "px", "key": key, "ltp": ltp}) + b"\n")
        parts += [_ENC.encode(r) + b"\n" for r in self._session_records(exchange)]
        if parts:
            self._write(b"".join(parts))

    def _session_records(self, exchange: PaperExchange) -> list[dict[str, Any]]:
        """``sess`` records of the instruments whose reference prices changed since written."""
        out = []
        for key, st in exchange.market.states.items():
            ref = (st.prev_close, st.open, st.high, st.low)
            if self._sess.get(key) != ref:
                self._sess[key] = ref
                out.append(
                    {"k": "sess", "key": key, "pc": ref[0], "o": ref[1], "h": ref[2], "l": ref[3]}
                )
        return out

    def _write(self, data: bytes) -> bool:
        if self._fd is None:
            return False
        try:
            os.write(self._fd, data)
            return True
        except OSError as exc:
            self.write_errors += 1
            log.error("paper account state not written to %s: %s", self.path, exc)
            return False

    def close(self) -> None:
        """Close the file and drop the lock. Idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


# -- records -----------------------------------------------------------------------------------


def _money_decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def _position_records(opening: dict[tuple[str, str], tuple[int, Fraction]]) -> list[dict[str, Any]]:
    return [
        {
            "k": "pos",
            "key": key,
            "product": product,
            "net": net,
            "avg": [avg.numerator, avg.denominator],
        }
        for (key, product), (net, avg) in opening.items()
        if net
    ]


def _order_record(o: Order) -> dict[str, Any]:
    return {
        "k": "order",
        "id": o.orderid,
        "strategy": o.strategy,
        "key": o.state.key,
        "action": o.action,
        "pricetype": o.pricetype,
        "product": o.product,
        "steps": o.steps,
        "price": o.price,
        "trigger": o.trigger,
        "disclosed": o.disclosed,
        "status": o.status,
        "filled": o.filled,
        "value": o.value,
        "triggered": o.triggered,
        "reason": o.rejection_reason,
        "ts": o.timestamp,
    }


def _order(rec: dict[str, Any], states: dict[str, Any]) -> Order | None:
    state = states.get(rec["key"])
    if state is None:
        return None
    return Order(
        orderid=str(rec["id"]),
        strategy=str(rec["strategy"]),
        state=state,
        action=str(rec["action"]),
        pricetype=str(rec["pricetype"]),
        product=str(rec["product"]),
        steps=int(rec["steps"]),
        price=int(rec["price"]),
        trigger=int(rec["trigger"]),
        disclosed=int(rec["disclosed"]),
        status=str(rec["status"]),
        filled=int(rec["filled"]),
        value=int(rec["value"]),
        triggered=bool(rec["triggered"]),
        rejection_reason=str(rec["reason"]),
        timestamp=str(rec["ts"]),
    )


def _trade_record(t: Trade) -> dict[str, Any]:
    return {
        "k": "trade",
        "id": t.tradeid,
        "order": t.order.orderid,
        "price": t.price,
        "steps": t.steps,
        "ts": t.timestamp,
    }
