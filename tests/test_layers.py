"""The layers keep their direction: every import in pyctr/ (function-level ones too) is read
from the source and checked against the order leaf helpers < runtime, images, network < engine <
cli.  And every module's first line says what it holds."""

import ast
import os
import re

import pytest

SOURCE = os.path.join(os.path.dirname(__file__), "..", "pyctr")
# what each layer may import of pyctr; a layer always may import itself
ALLOWED = {
    "leaf": {"leaf"},
    "runtime": {"leaf"},
    "images": {"leaf"},
    "network": {"leaf"},
    "engine": {"leaf", "runtime", "images", "network"},
    "cli": {"leaf", "runtime", "images", "network", "engine"},
    "entry": {"cli"},
}
# the package itself (its version) and the helpers every layer may use
LEAVES = {"pyctr", "pyctr.records", "pyctr.fastjson", "pyctr.timestamps", "pyctr.regularfiles",
          "pyctr._openat2", "pyctr.network._netlink"}
# what only the CLI may import: argv and presentation
CLI_ONLY_PACKAGES = {"typer", "click", "rich"}


def _modules() -> dict[str, str]:
    """module name -> path, for every .py and .pyx under pyctr/."""
    found = {}
    for directory, _, files in os.walk(SOURCE):
        for name in files:
            if name.endswith((".py", ".pyx")):
                path = os.path.join(directory, name)
                parts = os.path.relpath(path, os.path.dirname(SOURCE)).rsplit(".", 1)[0].split(os.sep)
                if parts[-1] == "__init__":
                    parts.pop()
                found[".".join(parts)] = path
    return found


def layer(module: str) -> str:
    if module in LEAVES:
        return "leaf"
    if module == "pyctr.__main__":
        return "entry"
    return module.split(".")[1]


def _imports(module: str, path: str) -> set[str]:
    """Absolute names of everything the module imports (relative imports resolved)."""
    with open(path) as f:
        text = f.read()
    if path.endswith(".pyx"):  # Cython: the Python import lines alone
        text = "\n".join(line for line in text.splitlines() if re.match(r"\s*(from \S+ )?import ", line)
                         and " cimport " not in line)
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)  # `from . import x`
    return names


MODULES = _modules()


def test_the_walk_sees_the_layers():
    assert {layer(m) for m in MODULES} == set(ALLOWED)
    assert "pyctr.runtime._core" in MODULES and "pyctr.cli.fast" in MODULES


def violations(module: str, path: str) -> set[str]:
    """What `module` imports against the rule: pyctr modules of a layer it may not use,
    and the CLI's packages outside the CLI."""
    mine = layer(module)
    wrong = set()
    for name in _imports(module, path):
        if name == "pyctr" or name.startswith("pyctr."):
            target = max((m for m in MODULES if name == m or name.startswith(m + ".")), key=len, default=None)
            if target and layer(target) != mine and layer(target) not in ALLOWED[mine]:
                wrong.add(target)
        elif name.split(".")[0] in CLI_ONLY_PACKAGES and mine != "cli":
            wrong.add(name.split(".")[0])
    return wrong


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    assert violations(module, MODULES[module]) == set(), f"{module} ({layer(module)}) imports against the layers"


def test_the_rule_catches_an_upward_import(tmp_path):
    """The check itself: a runtime module importing the engine (in a function) and rich,
    and an engine module importing the CLI, are found."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ..engine import store\n    import rich.table\n")
    assert violations("pyctr.runtime.bad", str(bad)) == {"pyctr.engine", "pyctr.engine.store", "rich"}
    bad.write_text("from ..cli.render import print_error\nfrom .. import records\n")
    assert violations("pyctr.engine.bad", str(bad)) == {"pyctr.cli.render"}


@pytest.mark.parametrize("module", sorted(m for m, p in MODULES.items() if p.endswith(".py")))
def test_every_module_says_what_it_holds(module):
    with open(MODULES[module]) as f:
        doc = ast.get_docstring(ast.parse(f.read()))
    assert doc and len(doc.splitlines()[0].split()) >= 4, f"{module}: no first line saying what it holds"
