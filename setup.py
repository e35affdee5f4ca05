from glob import glob

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup

ext = Pybind11Extension(
    "realtime_ser._native",
    sorted(glob("csrc/ser/*.cc")) + sorted(glob("csrc/python/*.cc")),
    include_dirs=["csrc"],
    cxx_std=17,
    extra_compile_args=["-O3", "-fno-math-errno"],
)

setup(ext_modules=[ext], cmdclass={"build_ext": build_ext})
