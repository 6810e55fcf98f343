"""Builds the C core (csrc/) into the `pyctr._core` extension through Cython."""
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

core = Extension(
    "pyctr._core",
    sources=["pyctr/_core.pyx"] + sorted(glob("csrc/*.c")),
    include_dirs=["csrc"],
    extra_compile_args=["-O2", "-Wall", "-Wno-unused-function"],
)

setup(ext_modules=cythonize([core], language_level=3))
