"""Import contracts between cockpit's packages (DESIGN.md §2), read from the source.

Every module under ``cockpit/`` is parsed (nothing is imported) and its imports collected:
``import x``, ``from x import y`` (relative ones resolved), imports inside functions, and
``importlib.import_module``/``__import__`` with a literal (or f-string) name. A contract
forbids a set of modules to a set of packages, directly or through any chain of cockpit
modules (importing ``cockpit.a.b`` also runs ``cockpit/a/__init__.py``); a failure names the
chain and the line.

``CONTRACTS`` are enforced. ``PENDING`` are contracts the code does not keep yet: the day one
starts to hold the run says so, and it moves up to ``CONTRACTS``. A fresh interpreter also
confirms at run time that the core leaves Textual out.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
"""The checkout holding the ``cockpit`` package these contracts are about."""
_PYTHONPATH = os.environ.get("PYTHONPATH", "")

CORE = (
    "cockpit.domain",
    "cockpit.adapters",
    "cockpit.engine",
    "cockpit.journal",
    "cockpit.sim",
    "cockpit.link",
    "cockpit.daemon",
    "cockpit.paths",
)
"""Packages that never import Textual (``link`` and ``daemon`` as soon as they exist)."""


@dataclass(frozen=True)
class Contract:
    """``sources`` never import ``forbidden`` (except ``allowed``), directly or indirectly."""

    name: str
    sources: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    through: tuple[str, ...] = ()
    """Packages the sources may import whatever those import themselves."""
    runtime_only: bool = False
    """Only imports that run count: those under ``if TYPE_CHECKING:`` are allowed."""


CONTRACTS = [
    Contract(
        "domain imports nothing else of cockpit",
        sources=("cockpit.domain",),
        forbidden=("cockpit",),
        allowed=("cockpit.domain",),
    ),
    Contract(
        "the core never imports textual",
        sources=CORE,
        forbidden=("textual",),
        runtime_only=True,  # STYLE.md §21: Textual types under TYPE_CHECKING are fine
    ),
    Contract(
        "journal never imports the engine",
        sources=("cockpit.journal",),
        forbidden=("cockpit.engine", "cockpit.daemon"),
    ),
    Contract(
        "nothing but the cli imports ui",
        sources=(*CORE, "cockpit.config"),
        forbidden=("cockpit.ui",),
    ),
    Contract(
        "adapters lean on the domain only",
        sources=("cockpit.adapters",),
        forbidden=(
            "cockpit.engine",
            "cockpit.link",
            "cockpit.daemon",
            "cockpit.journal",
            "cockpit.sim",
            "cockpit.ui",
        ),
    ),
    Contract(
        "the link knows nothing of the engine's insides, the venues or the TUI",
        sources=("cockpit.link",),
        forbidden=("cockpit.engine", "cockpit.daemon", "cockpit.adapters", "cockpit.ui"),
    ),
    Contract(
        "the paper exchange stands alone",
        sources=("cockpit.sim",),
        forbidden=(
            "cockpit.engine",
            "cockpit.link",
            "cockpit.daemon",
            "cockpit.journal",
            "cockpit.adapters",
            "cockpit.ui",
        ),
    ),
    Contract(
        "the engine never imports adapters",
        sources=("cockpit.engine", "cockpit.link"),
        forbidden=("cockpit.adapters",),
    ),
    Contract(
        "ui talks to the engine only through cockpit.link",
        sources=("cockpit.ui",),
        forbidden=("cockpit.engine", "cockpit.daemon"),
        through=("cockpit.link",),
    ),
]

PENDING: list[Contract] = []
"""Contracts the code does not keep yet (none at the moment)."""


# -- reading the source ---------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import statement's target, as an absolute dotted name."""

    target: str
    line: int
    runtime: bool
    """False under ``if TYPE_CHECKING:``."""


@dataclass
class Module:
    name: str
    path: Path
    imports: list[Import] = field(default_factory=list)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _literal_prefix(arg: ast.expr) -> str | None:
    """The module name of ``import_module("a.b")``, or the literal start of an f-string."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values:
        first = arg.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value.rsplit(".", 1)[0] if "." in first.value else None
    return None


class _Collector(ast.NodeVisitor):
    def __init__(self, package: str) -> None:
        self.package = package
        """The package relative imports start from."""
        self.runtime = True
        self.found: list[Import] = []

    def _add(self, target: str, node: ast.AST) -> None:
        self.found.append(Import(target, getattr(node, "lineno", 0), self.runtime))

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        runtime, self.runtime = self.runtime, False
        for stmt in node.body:
            self.visit(stmt)
        self.runtime = runtime
        for stmt in node.orelse:
            self.visit(stmt)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            base = f"{base}.{node.module}" if node.module else base
        else:
            base = node.module or ""
        for alias in node.names:
            self._add(base if alias.name == "*" else f"{base}.{alias.name}", node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("import_module", "__import__") and node.args:
            target = _literal_prefix(node.args[0])
            if target:
                self._add(target, node)
        self.generic_visit(node)


def read_modules(root: Path = ROOT, top: str = "cockpit") -> dict[str, Module]:
    """Every module of the package ``top`` under ``root``, with its imports."""
    modules: dict[str, Module] = {}
    for path in sorted((root / top).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join(parts)
        collector = _Collector(name if is_package else name.rpartition(".")[0])
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        modules[name] = Module(name, path, collector.found)
    return modules


# -- checking -------------------------------------------------------------------------


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _runs(target: str, modules: dict[str, Module]) -> list[str]:
    """The cockpit modules importing ``target`` runs: it (or its module) and its packages."""
    parts = target.split(".")
    ran = [".".join(parts[:n]) for n in range(1, len(parts) + 1)]
    return [m for m in ran if m in modules]


def violations(contract: Contract, modules: dict[str, Module]) -> list[str]:
    """Each import statement breaking the contract, with one chain of modules leading to it."""
    found: dict[tuple[str, int], tuple[int, str]] = {}
    """(importer, line) -> the shortest chain to it: (length, text)."""
    for start in (m for m in modules if _within(m, contract.sources)):
        parent: dict[str, str | None] = {start: None}
        todo = deque([start])
        while todo:
            name = todo.popleft()
            for imp in modules[name].imports:
                if contract.runtime_only and not imp.runtime:
                    continue
                runs = _runs(imp.target, modules)
                if _within(imp.target, contract.forbidden) and not _within(
                    imp.target, contract.allowed
                ):
                    chain = [name]
                    while (up := parent[chain[0]]) is not None:
                        chain.insert(0, up)
                    where = f"{modules[name].path}:{imp.line}".removeprefix(f"{ROOT}/")
                    what = runs[-1] if runs else imp.target
                    text = f"{' -> '.join(chain)} imports {what} ({where})"
                    key = (name, imp.line)
                    found[key] = min(found.get(key, (len(chain), text)), (len(chain), text))
                    continue  # what the forbidden module imports is not the sources' doing
                for nxt in runs:
                    if nxt not in parent and not _within(nxt, contract.through):
                        parent[nxt] = name
                        todo.append(nxt)
    return sorted(text for _, text in found.values())


def _check(contract: Contract, modules: dict[str, Module]) -> None:
    assert any(_within(m, contract.sources) for m in modules), f"{contract.name}: no source"
    broken = violations(contract, modules)
    assert not broken, f"{contract.name}:\n  " + "\n  ".join(broken)


# -- the contracts --------------------------------------------------------------------

MODULES = read_modules()


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.name)
def test_contract_holds(contract: Contract) -> None:
    _check(contract, MODULES)


def test_pending_contracts_are_still_broken() -> None:
    """A pending contract that holds now belongs in CONTRACTS, where it stays enforced."""
    holding = [c.name for c in PENDING if not violations(c, MODULES)]
    assert holding == [], f"these hold now, move them to CONTRACTS: {holding}"


def _violate(contract: Contract, modules: dict[str, Module], *, indirect: bool) -> None:
    """Add a module inside the first existing source package that imports a forbidden name."""
    source = next(s for s in contract.sources if any(_within(m, (s,)) for m in modules))
    target = f"{contract.forbidden[0]}.violation"
    if indirect:  # through a helper module outside the sources that the source imports
        modules["cockpit.helper_violation"] = Module(
            "cockpit.helper_violation",
            ROOT / "cockpit/helper_violation.py",
            [Import(target, 1, True)],
        )
        target = "cockpit.helper_violation"
    name = f"{source}.violation"
    modules[name] = Module(name, ROOT / (name.replace(".", "/") + ".py"), [Import(target, 1, True)])


@pytest.mark.parametrize("indirect", [False, True], ids=["direct", "indirect"])
@pytest.mark.parametrize("contract", CONTRACTS + PENDING, ids=lambda c: c.name)
def test_contract_catches_a_violation(contract: Contract, indirect: bool) -> None:
    """Each contract can fail: a module breaking it, directly or through another, is named."""
    modules = dict(MODULES)
    before = set(violations(contract, modules))  # empty but for a pending contract
    _violate(contract, modules, indirect=indirect)
    new = set(violations(contract, modules)) - before
    assert new, contract.name
    assert all(".violation" in v for v in new)


def test_a_contract_follows_chains_but_not_through_its_gateway() -> None:
    """ui -> helpers -> engine breaks "only through link"; ui -> link -> engine does not."""

    def module(name: str, *targets: str) -> Module:
        path = ROOT / (name.replace(".", "/") + ".py")
        return Module(name, path, [Import(t, 1, True) for t in targets])

    contract = next(c for c in CONTRACTS + PENDING if c.through)
    gateway = contract.through[0]
    engine = f"{contract.forbidden[0]}.core"
    modules = {
        m.name: m
        for m in (
            module("cockpit"),
            module("cockpit.ui"),
            module("cockpit.ui.app", f"{gateway}.client.Client"),
            module(gateway),
            module(f"{gateway}.client", f"{engine}.Engine"),
            module(contract.forbidden[0]),
            module(engine),
        )
    }
    assert violations(contract, modules) == []
    modules["cockpit.helpers"] = module("cockpit.helpers", f"{engine}.Engine")
    modules["cockpit.ui.app"].imports.append(Import("cockpit.helpers.helper", 2, True))
    assert violations(contract, modules) == [
        f"cockpit.ui.app -> cockpit.helpers imports {engine} (cockpit/helpers.py:1)"
    ]


def test_reading_resolves_relative_dynamic_and_type_checking_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "cockpit" / "domain"
    pkg.mkdir(parents=True)
    (tmp_path / "cockpit" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from .orders import Order\n")
    (pkg / "orders.py").write_text(
        "from __future__ import annotations\n"
        "import importlib\n"
        "from typing import TYPE_CHECKING\n"
        "from .. import engine\n"
        "if TYPE_CHECKING:\n"
        "    from textual.app import App\n"
        "def f():\n"
        "    import cockpit.ui.app\n"
        "    return importlib.import_module(f'cockpit.adapters.{1}.feed')\n"
    )
    modules = read_modules(tmp_path)
    assert [i.target for i in modules["cockpit.domain"].imports] == ["cockpit.domain.orders.Order"]
    imports = {i.target: i.runtime for i in modules["cockpit.domain.orders"].imports}
    assert imports == {
        "__future__.annotations": True,
        "importlib": True,
        "typing.TYPE_CHECKING": True,
        "cockpit.engine": True,
        "textual.app.App": False,
        "cockpit.ui.app": True,
        "cockpit.adapters": True,
    }


# -- at run time ----------------------------------------------------------------------


def _textual_after_importing(modules: list[str]) -> str:
    """Which ``textual`` modules a fresh interpreter holds after importing ``modules``."""
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))\n"
    )
    # The checkout read above is the one imported, whatever is installed.
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), _PYTHONPATH]))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_core_leaves_textual_out_at_run_time() -> None:
    """Importing every core module in a fresh interpreter loads no Textual module."""
    core = sorted(m for m in MODULES if _within(m, CORE))
    assert _textual_after_importing(core) == ""


def test_run_time_check_would_catch_textual() -> None:
    assert "textual.app" in _textual_after_importing(["cockpit.ui.app"]).split(",")
