// Python binding of ser/simd.h, for tests only: the fast exp, log and sqrt applied elementwise
// (portable build), so tests/test_simd.py can measure them against libm.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>

#include "ser/simd.h"
#include "python/numpy_util.h"

namespace py = pybind11;

namespace ser {

namespace {

template <typename F>
py::array_t<float> Map(FloatArray x, F f) {
  py::array_t<float> out(x.request().shape);
  const float* src = x.data();
  float* dst = out.mutable_data();
  const int64_t n = x.size();
  for (int64_t i = 0; i < n; ++i) dst[i] = f(src[i]);
  return out;
}

}  // namespace

void PybindSimd(py::module_& m) {
  py::module_ s = m.def_submodule("simd", "Fast math of csrc/ser/simd.h, elementwise (for tests).");
  s.def("fast_exp", [](FloatArray x) { return Map(x, [](float v) { return simd::FastExp(v); }); }, py::arg("x"),
        "exp(x) for x clamped to [-80, 80].");
  s.def("fast_log",
        [](FloatArray x, float floor) { return Map(x, [floor](float v) { return simd::FastLog(v, floor); }); },
        py::arg("x"), py::arg("floor") = 1e-38f, "ln(max(x, floor)) for x >= 0.");
  s.def("fast_sqrt", [](FloatArray x) { return Map(x, [](float v) { return simd::FastSqrt(v); }); }, py::arg("x"),
        "sqrt(x) for 0 <= x <= 1e30.");
  s.def("clean_power", [](FloatArray x) { return Map(x, [](float v) { return simd::CleanPower(v); }); },
        py::arg("x"), "x clamped to [0, 1e30], NaN to 0.");
  s.attr("LANES") = simd::kLanes;
}

}  // namespace ser
