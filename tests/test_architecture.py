"""Import direction and component rules, checked on the source (AST) and on the built components.

o3v ──✗──▶ kfp, components, pipelines          pipelines ──✗──▶ o3v, torch, transformers, trl
components: kfp + stdlib at module level; bodies import o3v inside and are one call into it;
every component runs on the one image constant, with no pip installs at run time.
Inside o3v the arrows point one way: no module imports, at any depth or inside a function, one that imports it.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
STDLIB = set(sys.stdlib_module_names)


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _roots(tree: ast.AST, *, module_level_only: bool = False) -> set[str]:
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    roots = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@pytest.mark.parametrize("path", _files("o3v"), ids=lambda p: str(p.relative_to(ROOT)))
def test_library_is_orchestration_free(path: Path) -> None:
    assert not _roots(_parse(path)) & {"kfp", "components", "pipelines"}


@pytest.mark.parametrize("path", _files("components"), ids=lambda p: str(p.relative_to(ROOT)))
def test_components_import_only_kfp_and_stdlib_at_module_level(path: Path) -> None:
    extra = _roots(_parse(path), module_level_only=True) - STDLIB - {"kfp", "components", "__future__"}
    assert not extra, f"{path.name} imports {extra} at module level"


@pytest.mark.parametrize("path", _files("pipelines"), ids=lambda p: str(p.relative_to(ROOT)))
def test_pipelines_do_not_touch_the_library(path: Path) -> None:
    assert not _roots(_parse(path)) & {"o3v", "torch", "transformers", "trl", "great_expectations"}


def _component_functions() -> list[tuple[Path, ast.FunctionDef]]:
    found = []
    for path in _files("components"):
        for node in _parse(path).body:
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and ast.unparse(d.func) == "dsl.component" for d in node.decorator_list
            ):
                found.append((path, node))
    return found


COMPONENT_FUNCTIONS = _component_functions()


@pytest.mark.parametrize("item", COMPONENT_FUNCTIONS, ids=lambda i: i[1].name)
def test_component_body_is_one_call_into_o3v(item: tuple[Path, ast.FunctionDef]) -> None:
    _, fn = item
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]  # docstring
    imports = [s for s in body if isinstance(s, (ast.Import, ast.ImportFrom))]
    rest = [s for s in body if s not in imports]
    assert imports and all(isinstance(s, ast.ImportFrom) and s.module.startswith("o3v") for s in imports)
    # one call (argument plumbing such as a dict literal is allowed inside it), optionally returned
    assert len(rest) == 1 and isinstance(getattr(rest[0], "value", None), ast.Call), ast.unparse(fn)
    assert not any(isinstance(n, (ast.For, ast.While, ast.If, ast.Try, ast.With)) for n in ast.walk(fn))
    for deco in fn.decorator_list:
        kwargs = {k.arg for k in getattr(deco, "keywords", [])}
        assert "packages_to_install" not in kwargs and "target_image" not in kwargs


def test_every_component_uses_the_image_constant_and_installs_nothing() -> None:
    from kfp.dsl.python_component import PythonComponent

    from components import _image

    seen = 0
    for path in _files("components"):
        if path.name.startswith("_"):
            continue
        module = importlib.import_module(f"components.{path.stem}")
        for obj in vars(module).values():
            if isinstance(obj, PythonComponent):
                container = obj.component_spec.implementation.container
                assert container.image in (_image.O3V_IMAGE, _image.O3V_GPU_IMAGE), obj.name
                assert "pip install" not in " ".join(container.command), obj.name
                seen += 1
    assert seen == len(COMPONENT_FUNCTIONS) >= 10


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _o3v_import_graph() -> dict[str, set[str]]:
    """o3v module -> the o3v modules it imports anywhere in its source (`from pkg import submodule` names the
    submodule, not the package)."""
    modules = {_module_name(p) for p in _files("o3v")}
    graph: dict[str, set[str]] = {}
    for path in _files("o3v"):
        deps: set[str] = set()
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in modules:
                subs = {f"{node.module}.{a.name}" for a in node.names} & modules
                deps |= subs if len(subs) == len(node.names) else subs | {node.module}
        graph[_module_name(path)] = deps - {_module_name(path)}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_o3v_has_no_import_cycles() -> None:
    graph = _o3v_import_graph()
    assert len(graph) > 100 and "o3v.curate.consistency" in graph["o3v.curate.check"]
    assert _cycles(graph) == []
