"""The dependency rules of the code base, checked from the source (every import, also
the ones inside functions), so a layering mistake fails CI instead of a review.

Rules (README, "Architecture"):
1. `storage` imports nothing of ours.
2. `bot.messages` and `bot.deals` import no storage, no slack_sdk, no slack_bolt.
3. `bot.nudges` never imports `handlers` or `slack_bolt`.
4. A ritual module in `handlers` never imports another ritual module; what they share
   lives in the shared modules below or a layer down.
5. Only the composition root (`bot.app`) and the CLI import `handlers`.
6. Nothing outside `bot.devkit`, the tests and the CLI imports `bot.devkit`.
And no import cycles among our modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

OURS = ("bot", "handlers", "storage")
# Modules of `handlers` that are not rituals: what several rituals share.
SHARED_HANDLERS = frozenset(
    {
        "handlers",
        "handlers.common",
        "handlers.loop_command",
        "handlers.errors",
        "handlers.guard",
        "handlers.debrief_replies",
        "handlers.deal_intake",
    }
)
COMPOSITION = frozenset({"bot.app", "bot.cli"})


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or package), as written
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(root: Path, path: Path) -> Iterator[Import]:
    source = module_name(root, path)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(_without_type_checking(tree)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield Import(source, module, node.lineno)
            # `from bot import messages` imports the submodule bot.messages.
            for alias in node.names:
                yield Import(source, f"{module}.{alias.name}", node.lineno)


def _without_type_checking(tree: ast.Module) -> ast.Module:
    """Imports under `if TYPE_CHECKING:` are for annotations and never run: they are no
    dependency at run time and make no cycle."""

    class Strip(ast.NodeTransformer):
        def visit_If(self, node: ast.If) -> ast.AST | None:
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
            if name == "TYPE_CHECKING":
                return None
            return self.generic_visit(node)

    return Strip().visit(tree)


def collect(root: Path) -> tuple[set[str], list[Import]]:
    modules: set[str] = set()
    found: list[Import] = []
    for top in OURS:
        for path in sorted((root / top).rglob("*.py")):
            modules.add(module_name(root, path))
            found.extend(imports_of(root, path))
    # Keep only imports that name a real module of ours (drops `from x import function`).
    return modules, [i for i in found if i.target in modules or _external(i.target)]


def _external(name: str) -> bool:
    return name.split(".")[0] not in OURS


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _is_ritual(name: str) -> bool:
    return _within(name, "handlers") and name not in SHARED_HANDLERS


def violations(root: Path) -> list[str]:
    modules, found = collect(root)
    problems: list[str] = []

    def bad(i: Import, rule: str) -> None:
        problems.append(f"{i.source}:{i.line} imports {i.target} — {rule}")

    for i in found:
        src, dst = i.source, i.target
        if _within(src, "storage") and not _external(dst) and not _within(dst, "storage"):
            bad(i, "rule 1: storage imports nothing of ours")
        if _within(src, "bot.messages") or _within(src, "bot.deals"):
            if _within(dst, "storage") or dst.split(".")[0] in {"slack_sdk", "slack_bolt"}:
                bad(i, "rule 2: messages and deals are pure")
        if _within(src, "bot.nudges") and (
            _within(dst, "handlers") or dst.split(".")[0] == "slack_bolt"
        ):
            bad(i, "rule 3: nudges never import handlers or slack_bolt")
        if _is_ritual(src) and _is_ritual(dst) and src != dst:
            bad(i, "rule 4: a ritual never imports another ritual")
        if _within(dst, "handlers") and not _within(src, "handlers") and src not in COMPOSITION:
            bad(i, "rule 5: only the composition root imports handlers")
        if _within(dst, "bot.devkit") and not _within(src, "bot.devkit") and src != "bot.cli":
            bad(i, "rule 6: only the CLI uses the devkit")
    problems.extend(f"import cycle: {' -> '.join(c)}" for c in cycles(modules, found))
    return problems


def cycles(modules: Iterable[str], found: Iterable[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for i in found:
        if i.target in graph and i.target != i.source:
            graph[i.source].add(i.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out
