"""Builds the C core (csrc/) into the `pyctr._core` extension through Cython, and the
programs pyctr-monitor (csrc/monitor/) and pyctr-init (csrc/init.c) beside it."""
import os
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PROGRAMS = {"pyctr-monitor": (sorted(glob("csrc/monitor/*.c")), []), "pyctr-init": (["csrc/init.c"], ["-static"])}
CORE_SOURCES = sorted(set(glob("csrc/*.c")) - {"csrc/init.c"})

core = Extension(
    "pyctr._core",
    sources=["pyctr/_core.pyx"] + CORE_SOURCES,
    include_dirs=["csrc"],
    extra_compile_args=["-O2", "-Wall", "-Wno-unused-function"],
)


class BuildWithPrograms(build_ext):
    """build_ext, plus pyctr's small C programs beside the extension (in-place builds too):
    the monitor of detached containers and the --init pid 1 (static: it runs inside
    any image)."""

    def run(self):
        super().run()
        out_dir = os.path.dirname(self.get_ext_fullpath("pyctr._core"))
        for name, (sources, link_args) in PROGRAMS.items():
            objects = self.compiler.compile(sources, output_dir=self.build_temp, extra_postargs=["-O2", "-Wall"])
            self.compiler.link_executable(objects, name, output_dir=out_dir, extra_postargs=link_args)


# bin/pyctr rather than a console-script entry point: pip's wrapper for those imports `re`
# (3 ms of every `pyctr run`).
setup(ext_modules=cythonize([core], language_level=3), cmdclass={"build_ext": BuildWithPrograms},
      scripts=["bin/pyctr"])
