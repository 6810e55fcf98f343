"""Builds the C core (csrc/) into the `pyctr._core` extension through Cython, and the
detached containers' monitor (csrc/monitor.c) into the `pyctr/pyctr-monitor` program."""
import os
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CORE_SOURCES = sorted(set(glob("csrc/*.c")) - {"csrc/monitor.c"})

core = Extension(
    "pyctr._core",
    sources=["pyctr/_core.pyx"] + CORE_SOURCES,
    include_dirs=["csrc"],
    extra_compile_args=["-O2", "-Wall", "-Wno-unused-function"],
)


class BuildWithMonitor(build_ext):
    """build_ext, plus the monitor program beside the extension (in-place builds too)."""

    def run(self):
        super().run()
        out_dir = os.path.dirname(self.get_ext_fullpath("pyctr._core"))
        objects = self.compiler.compile(["csrc/monitor.c"], output_dir=self.build_temp,
                                        extra_postargs=["-O2", "-Wall"])
        self.compiler.link_executable(objects, "pyctr-monitor", output_dir=out_dir)


setup(ext_modules=cythonize([core], language_level=3), cmdclass={"build_ext": BuildWithMonitor})
