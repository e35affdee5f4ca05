#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace ser {
void PybindOnlineLld(py::module_& m);
void PybindDelta(py::module_& m);
void PybindLstm(py::module_& m);
void PybindSegmentTracker(py::module_& m);
void PybindOnlineFeatures(py::module_& m);
void PybindNormalizer(py::module_& m);
void PybindLcBlstm(py::module_& m);
void PybindOnlineStream(py::module_& m);
void PybindDsp(py::module_& m);
void PybindSimd(py::module_& m);
void PybindSpeechDetector(py::module_& m);
}

PYBIND11_MODULE(_native, m) {
  m.doc() = "Native core of realtime_ser: streaming frame descriptors, deltas, LSTM recurrence, CTC decoding, segment tracking, adaptive normalisation.";
  ser::PybindOnlineLld(m);
  ser::PybindDelta(m);
  ser::PybindLstm(m);
  ser::PybindSegmentTracker(m);
  ser::PybindOnlineFeatures(m);
  ser::PybindNormalizer(m);
  ser::PybindLcBlstm(m);
  ser::PybindOnlineStream(m);
  ser::PybindDsp(m);
  ser::PybindSimd(m);
  ser::PybindSpeechDetector(m);
}
