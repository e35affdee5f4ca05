// Python binding of ser/online_features.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>

#include "ser/online_features.h"
#include "python/numpy_util.h"

namespace py = pybind11;

namespace ser {

void PybindOnlineFeatures(py::module_& m) {
  m.def("final_frames", &FinalFrames, py::arg("num_samples"),
        "Frames final once num_samples 16 kHz samples have arrived (input not finished).");
  py::class_<OnlineFeatures>(m, "OnlineFeatures",
                             "One stream's 16 kHz front end: descriptors and their deltas, final frames only.")
      .def(py::init<>())
      .def("accept_waveform",
           [](OnlineFeatures& self, FloatArray x) {
             if (x.ndim() != 1) throw std::invalid_argument("accept_waveform expects a 1-D array");
             const float* p = x.data();
             const int64_t n = x.shape(0);
             py::gil_scoped_release release;
             self.AcceptWaveform(p, n);
           },
           py::arg("samples"))
      .def("input_finished", &OnlineFeatures::InputFinished, py::call_guard<py::gil_scoped_release>())
      .def("pop_frames",
           [](OnlineFeatures& self) {
             const int64_t n = self.NumFramesFinal();
             py::array_t<float> out({n, static_cast<int64_t>(FeatureDim())});
             float* p = out.mutable_data();
             {
               py::gil_scoped_release release;
               self.PopFrames(p, n);  // at most n: audio accepted meanwhile waits for the next pop
             }
             return out;
           },
           "The frames that are final now, float32 (n, FEATURE_DIM).")
      .def("reset", &OnlineFeatures::Reset)
      .def_property_readonly("is_finished", &OnlineFeatures::IsFinished)
      .def_property_readonly("num_frames_emitted", &OnlineFeatures::NumFramesEmitted)
      .def_property_readonly("history_frames", &OnlineFeatures::HistoryFrames);
}

}  // namespace ser
