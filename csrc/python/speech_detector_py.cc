// Python binding of ser/speech_detector.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>

#include "python/numpy_util.h"
#include "ser/speech_detector.h"

namespace py = pybind11;

namespace ser {

namespace {

py::array_t<uint8_t> AcceptFrames(SpeechDetector& self, FloatArray x) {
  if (x.ndim() != 2) throw std::invalid_argument("accept_frames expects a (n, dim) array");
  const int64_t n = x.shape(0);
  const int stride = static_cast<int>(x.shape(1));
  py::array_t<uint8_t> out(static_cast<py::ssize_t>(n));
  const float* in = x.data();
  uint8_t* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    self.AcceptFrames(in, n, stride, dst);
  }
  return out;
}

#define SER_FIELD(name) .def_readwrite(#name, &SpeechDetectorOptions::name)

}  // namespace

void PybindSpeechDetector(py::module_& m) {
  py::class_<SpeechDetectorOptions>(m, "SpeechDetectorOptions", "Options of SpeechDetector (see speech_detector.h).")
      .def(py::init<>())
      SER_FIELD(min_voicing) SER_FIELD(snr) SER_FIELD(min_log_energy) SER_FIELD(floor_init)
      SER_FIELD(floor_rise) SER_FIELD(steady_f0) SER_FIELD(steady_energy) SER_FIELD(steady_frames)
      SER_FIELD(onset_frames) SER_FIELD(hangover_frames)
      .def("validate", &SpeechDetectorOptions::Validate)
      .def("__str__", &SpeechDetectorOptions::ToString);

  py::class_<SpeechDetector>(m, "SpeechDetector",
                             "Causal voice-activity decision per frame from the base descriptors, "
                             "with a running noise floor, onset and hangover.")
      .def(py::init<const SpeechDetectorOptions&>(), py::arg("options") = SpeechDetectorOptions())
      .def("accept_frames", &AcceptFrames, py::arg("frames"),
           "(n, dim) rows whose first columns are the base descriptors (features or OnlineLld "
           "frames) -> uint8 (n,) speech flags.")
      .def("reset", &SpeechDetector::Reset)
      .def_property_readonly("options", &SpeechDetector::Options)
      .def_property_readonly("num_frames", &SpeechDetector::NumFrames)
      .def_property_readonly("num_speech_frames", &SpeechDetector::NumSpeechFrames)
      .def_property_readonly("in_speech", &SpeechDetector::InSpeech)
      .def_property_readonly("noise_floor", &SpeechDetector::NoiseFloor, "Running floor of log_energy.");
}

}  // namespace ser
