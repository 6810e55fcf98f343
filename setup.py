"""Builds the C core (csrc/) into the `pyctr.runtime._core` extension through Cython, the
programs pyctr-monitor and pyctr-init into pyctr/libexec/, and the `pyctr` command itself
(csrc/client/, the warm process's client) into bin/ beside the Python CLI bin/pyctr-cli.  Sources and compiler flags
come from csrc/sources.cmake, which CMake (the C unit tests) reads too.  PYCTR_WERROR=1
makes warnings errors (scripts/setup.sh sets it: CI builds the way the tests do)."""
import ast
import os

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from distutils.command.build_scripts import build_scripts  # noqa: E402 -- setuptools provides it (setuptools first)


def cmake_lists(path: str = "csrc/sources.cmake") -> dict[str, list[str]]:
    """`set(NAME a b c)` lines -> {NAME: [a, b, c]}."""
    lists = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("set(") and line.endswith(")"):
                name, *values = line[4:-1].split()
                lists[name] = values
    return lists


LISTS = cmake_lists()
FLAGS = LISTS["PYCTR_C_FLAGS"] + (["-Werror"] if os.environ.get("PYCTR_WERROR") == "1" else [])
PROGRAMS = {"pyctr-monitor": (LISTS["PYCTR_MONITOR_SOURCES"], []),
            "pyctr-init": (LISTS["PYCTR_INIT_SOURCES"], ["-static"])}

core = Extension(
    "pyctr.runtime._core",
    sources=["pyctr/runtime/_core.pyx"] + LISTS["PYCTR_CORE_SOURCES"],
    include_dirs=["csrc"],
    extra_compile_args=FLAGS,
)
# libseccomp, loaded only when a filter is compiled (runtime/seccomp.py caches the result)
seccomp = Extension(
    "pyctr.runtime._seccomp",
    sources=["pyctr/runtime/_seccomp.pyx"],
    extra_compile_args=FLAGS,
    libraries=["seccomp"],
)
# openat2(2) for resolving untrusted layer paths inside a root (images/unpack.py)
openat2 = Extension("pyctr._openat2", sources=["pyctr/_openat2.pyx"], extra_compile_args=FLAGS)

# a container's veth pair, address and route in raw rtnetlink (network/, the per-container path)
netlink = Extension("pyctr.network._netlink", sources=["pyctr/network/_netlink.pyx"] + LISTS["PYCTR_NETLINK_SOURCES"],
                    include_dirs=["csrc"], extra_compile_args=FLAGS)


def python_constants(path: str, names: tuple) -> dict[str, str]:
    """String constants of a module, read without importing it (ast)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and getattr(node.targets[0], "id", None) in names:
            found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


# The client resolves --root and --runroot as pyctr/engine/paths.py does, from its defaults.
DEFAULTS = python_constants("pyctr/engine/paths.py", ("DEFAULT_ROOT", "DEFAULT_RUNROOT"))
CLIENT_DEFINES = [(f"PYCTR_{name}", f'"{value}"') for name, value in DEFAULTS.items()]


class BuildWithPrograms(build_ext):
    """build_ext, plus pyctr's small C programs in pyctr/libexec/ (in-place builds too):
    the monitor of every container and the --init pid 1."""

    def run(self):
        super().run()
        runtime_dir = os.path.dirname(self.get_ext_fullpath("pyctr.runtime._core"))
        out_dir = os.path.join(os.path.dirname(runtime_dir), "libexec")
        for name, (sources, link_args) in PROGRAMS.items():
            objects = self.compiler.compile(sources, output_dir=self.build_temp, extra_postargs=FLAGS)
            self.compiler.link_executable(objects, name, output_dir=out_dir, extra_postargs=link_args)
        objects = self.compiler.compile(LISTS["PYCTR_CLIENT_SOURCES"], output_dir=self.build_temp,
                                        macros=CLIENT_DEFINES, extra_postargs=FLAGS)
        # static: no dynamic loader on every command (the client is most of a warm one's own time)
        self.compiler.link_executable(objects, "pyctr", output_dir=os.path.join(self.build_temp, "client"),
                                      extra_postargs=["-static"])


class BuildScriptsWithClient(build_scripts):
    """The scripts (#!python rewritten to the interpreter), then the compiled `pyctr`
    beside them: distutils' script copier cannot read a binary."""

    def run(self):
        super().run()
        ext = self.get_finalized_command("build_ext")
        self.copy_file(os.path.join(ext.build_temp, "client", "pyctr"), os.path.join(self.build_dir, "pyctr"))


# bin/pyctr-cli rather than a console-script entry point: pip's wrapper for those imports
# `re` (3 ms of every cold `pyctr run`).
setup(ext_modules=cythonize([core, seccomp, openat2, netlink], language_level=3),
      cmdclass={"build_ext": BuildWithPrograms, "build_scripts": BuildScriptsWithClient},
      scripts=["bin/pyctr-cli", "bin/pyctr-runtime"])
