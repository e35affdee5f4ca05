// Python binding of ser/dsp.h, for tests only: the shared window, pre-emphasis response,
// Levinson-Durbin recursion and acos, so tests/test_dsp.py can check them against numpy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "ser/dsp.h"
#include "python/numpy_util.h"

namespace py = pybind11;

namespace ser {

namespace {

// (a, err, keep) for autocorrelation r of length order + 1.
std::tuple<std::vector<double>, double, std::vector<double>> Levinson(std::vector<double> r, int keep_order) {
  const int order = static_cast<int>(r.size()) - 1;
  if (order < 1) throw std::invalid_argument("levinson_durbin: r needs at least 2 lags");
  if (keep_order < 0 || keep_order > order)
    throw std::invalid_argument("levinson_durbin: keep_order must be in [0, " + std::to_string(order) + "]");
  std::vector<double> a(order + 1), keep(keep_order + 1);
  const double err = LevinsonDurbin(r.data(), order, a.data(), keep_order, keep.data());
  return {a, err, keep};
}

}  // namespace

void PybindDsp(py::module_& m) {
  py::module_ d = m.def_submodule("dsp", "The shared DSP core of csrc/ser/dsp.h (for tests).");
  d.attr("PI") = kPi;
  d.attr("PRE_EMPHASIS") = kPreEmphasis;
  d.def("hamming", [](int n) { return ToArray(HammingWindow(n)); }, py::arg("n"));
  d.def("pre_emphasis_power_gain", &PreEmphasisPowerGain, py::arg("w"));
  d.def("levinson_durbin", &Levinson, py::arg("r"), py::arg("keep_order") = 0,
        "(a, err, a_keep): A(z) coefficients (a[0] = 1), prediction error, and the order-keep_order step.");
  d.def("add_noise_floor", [](std::vector<double> r) { AddNoiseFloor(r.data()); return r; }, py::arg("r"));
  d.def("fast_acos", &FastAcos, py::arg("x"));
}

}  // namespace ser
