"""A paper account held by another process names that process: an engine killed while its
paper exchange hung (stopped, or stuck) left the exchange holding the account's lock, and the
restarted engine could only say "another paper exchange is using DIR", not which one to stop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.sim.accounts import AccountStore, StateLocked

HOLD = """
import sys, time
from pathlib import Path
from cockpit.sim.accounts import AccountStore
store = AccountStore(Path(sys.argv[1]))
print("held", flush=True)
time.sleep(60)
"""


def test_a_locked_account_names_the_process_that_holds_it(tmp_path: Path) -> None:
    acct = tmp_path / "acct"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(acct)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StateLocked) as err:
            AccountStore(acct, lock_wait_s=0.2)
        assert f"pid {holder.pid}" in str(err.value)
        assert f"kill {holder.pid}" in str(err.value)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    AccountStore(acct, lock_wait_s=2).close()  # the lock died with its holder
