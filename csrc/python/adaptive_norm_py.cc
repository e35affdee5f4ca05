// Python binding of ser/adaptive_norm.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "ser/adaptive_norm.h"
#include "python/numpy_util.h"

namespace py = pybind11;

namespace ser {

namespace {


py::array_t<float> Process(AdaptiveNorm& self, FloatArray x) {
  const int d = self.Dim();
  if (x.ndim() != 2 || x.shape(1) != d)
    throw std::invalid_argument("AdaptiveNorm.process expects a (n, " + std::to_string(d) + ") array");
  py::array_t<float> out({x.shape(0), static_cast<py::ssize_t>(d)});
  const float* src = x.data();
  float* dst = out.mutable_data();
  const int64_t n = x.shape(0);
  {
    py::gil_scoped_release release;
    self.Process(src, n, dst);
  }
  return out;
}

}  // namespace

void PybindAdaptiveNorm(py::module_& m) {
  py::class_<AdaptiveNorm>(m, "AdaptiveNorm",
                           "Causal per-stream normalisation: running speech statistics from a prior "
                           "(see csrc/ser/adaptive_norm.h).")
      .def(py::init([](std::vector<float> mean, std::vector<float> var, std::vector<uint8_t> adapt,
                       int gate_column, float gate_threshold, float tau_frames, float prior_frames,
                       float weight, bool adapt_scale) {
             AdaptiveNormOptions o;
             o.gate_column = gate_column;
             o.gate_threshold = gate_threshold;
             o.tau_frames = tau_frames;
             o.prior_frames = prior_frames;
             o.weight = weight;
             o.adapt_scale = adapt_scale;
             return AdaptiveNorm(o, std::move(mean), std::move(var), std::move(adapt));
           }),
           py::arg("mean"), py::arg("var"), py::arg("adapt"), py::arg("gate_column") = -1,
           py::arg("gate_threshold") = 0.0f, py::arg("tau_frames") = 3000.0f, py::arg("prior_frames") = 300.0f,
           py::arg("weight") = 1.0f, py::arg("adapt_scale") = true)
      .def("process", &Process, py::arg("frames"), "Normalise (n, dim) float32 frames in order; returns a new array.")
      .def("reset", &AdaptiveNorm::Reset, "Back to the prior statistics.")
      .def_property_readonly("speech_frames", &AdaptiveNorm::SpeechFrames)
      .def_property_readonly("mean", [](const AdaptiveNorm& a) { return ToArray(a.Mean()); })
      .def_property_readonly("var", [](const AdaptiveNorm& a) { return ToArray(a.Var()); });
}

}  // namespace ser
