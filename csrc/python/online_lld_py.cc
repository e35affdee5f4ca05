// Python binding of ser/online_lld.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "ser/online_lld.h"

namespace py = pybind11;

namespace ser {

void PybindOnlineLld(py::module_& m) {
  m.attr("LLD_VERSION") = kLldVersion;
  m.attr("SAMPLE_RATE") = kSampleRate;
  m.attr("FRAME_LENGTH") = kFrameLength;
  m.attr("FRAME_SHIFT") = kFrameShift;
  m.attr("PITCH_LOOKAHEAD") = kPitchLeft;
  m.attr("FEATURE_DIM") = kFeatureDim;  // base descriptors plus their differences
  m.def("lld_descriptors", [] {
    std::vector<std::pair<std::string, int>> out;
    for (const auto& d : LldDescriptors()) out.emplace_back(d.name, d.delta_order);
    return out;
  }, "List of (name, delta_order) for every frame descriptor, in output order.");

  py::class_<OnlineLld>(m, "OnlineLld", "Streaming frame descriptors at 16 kHz (no deltas).")
      .def(py::init<>())
      .def_property_readonly_static("dim", [](py::object) { return LldDim(); })
      .def("accept_waveform",
           [](OnlineLld& self, py::array_t<float, py::array::c_style | py::array::forcecast> x) {
             if (x.ndim() != 1) throw std::invalid_argument("accept_waveform expects a 1-D array");
             const float* p = x.data();
             const int64_t n = x.shape(0);
             py::gil_scoped_release release;
             self.AcceptWaveform(p, n);
           },
           py::arg("samples"), "Append 16 kHz float samples; computes the frames that become ready.")
      .def("input_finished", &OnlineLld::InputFinished, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("is_finished", &OnlineLld::IsFinished)
      .def_property_readonly("num_frames_ready", &OnlineLld::NumFramesReady)
      .def_property_readonly("num_frames_popped", &OnlineLld::NumFramesPopped)
      .def_property_readonly("num_samples_accepted", &OnlineLld::NumSamplesAccepted)
      .def("pop_frames",
           [](OnlineLld& self) {
             const int64_t n = self.NumFramesReady();
             py::array_t<float> out({n, static_cast<int64_t>(LldDim())});
             float* p = out.mutable_data();
             {
               py::gil_scoped_release release;
               self.PopFrames(p, n);
             }
             return out;
           },
           "Take every ready frame as a float32 array (n, dim).")
      .def("reset", &OnlineLld::Reset);
}

}  // namespace ser
