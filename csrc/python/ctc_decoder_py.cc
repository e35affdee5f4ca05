// Python binding of ser/ctc_decoder.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "ser/ctc_decoder.h"
#include "python/numpy_util.h"

namespace py = pybind11;

namespace ser {

namespace {


std::vector<std::pair<int, int64_t>> StartsOf(const std::vector<CtcSpike>& spikes) {
  std::vector<std::pair<int, int64_t>> out;
  out.reserve(spikes.size());
  for (const auto& s : spikes) out.emplace_back(s.label, s.start);
  return out;
}

void Accept(OnlineCtcDecoder& self, FloatArray x) {
  const int c = self.Options().num_outputs;
  if (x.ndim() != 2 || x.shape(1) != c)
    throw std::invalid_argument("accept_posteriors expects a (n, " + std::to_string(c) + ") array");
  if (x.shape(0) > INT32_MAX) throw std::invalid_argument("too many frames in one call");
  const float* p = x.data();
  const int n = static_cast<int>(x.shape(0));
  py::gil_scoped_release release;
  self.AcceptPosteriors(p, n);
}

}  // namespace

void PybindCtcDecoder(py::module_& m) {
  py::class_<OnlineCtcDecoder>(m, "OnlineCtcDecoder",
                               "Streaming CTC best-path decoder (argmax, merge repeats, drop blank).")
      .def(py::init([](int num_outputs, int blank) {
             CtcDecoderOptions o;
             o.num_outputs = num_outputs;
             o.blank = blank;
             return OnlineCtcDecoder(o);
           }),
           py::arg("num_outputs") = 5, py::arg("blank") = 0)
      .def_property_readonly("num_outputs", [](const OnlineCtcDecoder& d) { return d.Options().num_outputs; })
      .def_property_readonly("blank", [](const OnlineCtcDecoder& d) { return d.Options().blank; })
      .def("accept_posteriors", &Accept, py::arg("posteriors"),
           "Append (n, num_outputs) frame probabilities (float32; other dtypes are converted).")
      .def_property_readonly("num_frames", &OnlineCtcDecoder::NumFrames)
      .def_property_readonly("counts", [](const OnlineCtcDecoder& d) { return ToArray(d.Counts()); },
                             "Decoded labels per output index, int64 (num_outputs,).")
      .def_property_readonly("post_sum", [](const OnlineCtcDecoder& d) { return ToArray(d.PostSum()); },
                             "Posteriors summed over frames, float64 (num_outputs,).")
      .def_property_readonly("last_argmax", &OnlineCtcDecoder::LastArgmax)
      .def_property_readonly("spikes", [](const OnlineCtcDecoder& d) { return StartsOf(d.Spikes()); },
                             "(output_index, start_frame) of the spikes kept: all until pop_new_spikes() is first "
                             "called, then the last one it returned and those it has not returned yet.")
      .def_property_readonly("spike_runs",
                             [](const OnlineCtcDecoder& d) {
                               std::vector<std::tuple<int, int64_t, int64_t>> out;
                               for (const auto& s : d.Spikes()) out.emplace_back(s.label, s.start, s.end);
                               return out;
                             },
                             "(output_index, start_frame, end_frame) of the spikes kept; end is -1 while open.")
      .def("pop_new_spikes", [](OnlineCtcDecoder& d) { return StartsOf(d.PopNewSpikes()); },
           "(output_index, start_frame) of the spikes that started since the last call; the "
           "spikes it returned before are dropped, all but the last (bounded memory).")
      .def("reset", &OnlineCtcDecoder::Reset);
}

}  // namespace ser
