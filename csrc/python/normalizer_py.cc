// Python binding of ser/normalizer.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "ser/normalizer.h"
#include "python/numpy_util.h"

namespace py = pybind11;

namespace ser {

// NormalizerOptions from keyword arguments (shared with the recognizer's binding).
NormalizerOptions NormalizerOptionsFrom(const py::dict& kw) {
  NormalizerOptions o;
  auto floats = [&](const char* k) { return kw.contains(k) ? kw[k].cast<std::vector<float>>() : std::vector<float>(); };
  o.mean = floats("mean");
  o.std = floats("std");
  o.adaptive = kw.contains("adaptive") && kw["adaptive"].cast<bool>();
  if (!o.adaptive) return o;
  o.speech_mean = floats("speech_mean");
  o.speech_var = floats("speech_var");
  o.adapt = kw["adapt"].cast<std::vector<uint8_t>>();
  AdaptiveNormOptions& a = o.adaptation;
  a.gate_column = kw["gate_column"].cast<int>();
  a.gate_threshold = kw["gate_threshold"].cast<float>();
  a.tau_frames = kw["tau_frames"].cast<float>();
  a.prior_frames = kw["prior_frames"].cast<float>();
  a.weight = kw["weight"].cast<float>();
  a.adapt_scale = kw["adapt_scale"].cast<bool>();
  return o;
}

void PybindNormalizer(py::module_& m) {
  py::class_<Normalizer>(m, "Normalizer",
                         "A stream's input normalisation: global statistics, or the causal per-stream "
                         "adaptation (csrc/ser/normalizer.h). Keywords: mean, std, adaptive; with adaptive: "
                         "speech_mean, speech_var, adapt, gate_column, gate_threshold, tau_frames, "
                         "prior_frames, weight, adapt_scale.")
      .def(py::init([](py::kwargs kw) { return Normalizer(NormalizerOptionsFrom(kw)); }))
      .def("process",
           [](Normalizer& self, FloatArray x) {
             const int d = self.Dim();
             if (x.ndim() != 2 || x.shape(1) != d)
               throw std::invalid_argument("Normalizer.process expects a (n, " + std::to_string(d) + ") array");
             py::array_t<float> out({x.shape(0), static_cast<py::ssize_t>(d)});
             const float* src = x.data();
             float* dst = out.mutable_data();
             const int64_t n = x.shape(0);
             py::gil_scoped_release release;
             self.Process(src, n, dst);
             return out;
           },
           py::arg("frames"), "Normalise (n, dim) frames in stream order; returns a new float32 array.")
      .def("reset", &Normalizer::Reset, "Back to the prior statistics (a new speaker).")
      .def_property_readonly("is_adaptive", &Normalizer::IsAdaptive)
      .def_property_readonly("speech_frames", &Normalizer::SpeechFrames);
}

}  // namespace ser
