// Python binding of ser/segment_tracker.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "ser/segment_tracker.h"
#include "python/numpy_util.h"

namespace py = pybind11;

namespace ser {

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

template <typename A>
void CheckRows(const A& x, int c, const char* what) {
  if (x.ndim() != 2 || x.shape(1) != c)
    throw std::invalid_argument(std::string(what) + " expects a (n, " + std::to_string(c) + ") array");
}

using FlagArray = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

// The speech flags of n frames, or null when none are given.
const uint8_t* Flags(const py::object& speech, int64_t n, FlagArray& keep) {
  if (speech.is_none()) return nullptr;
  keep = FlagArray::ensure(speech);
  if (!keep || keep.ndim() != 1 || keep.shape(0) != n)
    throw std::invalid_argument("speech expects one flag per frame (" + std::to_string(n) + ")");
  return keep.data();
}

py::array_t<float> AcceptLogits(SegmentTracker& self, FloatArray x, py::object speech) {
  const int c = self.Options().num_classes;
  CheckRows(x, c, "accept_logits");
  const int64_t n = x.shape(0);
  FlagArray keep;
  const uint8_t* flags = Flags(speech, n, keep);
  py::array_t<float> post({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(c)});
  const float* in = x.data();
  float* out = post.mutable_data();
  {
    py::gil_scoped_release release;
    self.AcceptLogits(in, n, out, flags);
  }
  return post;
}

void AcceptPosteriors(SegmentTracker& self, FloatArray x, py::object speech) {
  CheckRows(x, self.Options().num_classes, "accept_posteriors");
  const float* p = x.data();
  const int64_t n = x.shape(0);
  FlagArray keep;
  const uint8_t* flags = Flags(speech, n, keep);
  py::gil_scoped_release release;
  self.AcceptPosteriors(p, n, flags);
}

// Row softmax in double (float64 input stays float64 until the end), float32 out.
py::array_t<float> Softmax(py::array x) {
  if (x.ndim() != 2) throw std::invalid_argument("softmax expects a 2-D array");
  const int64_t n = x.shape(0);
  const int c = static_cast<int>(x.shape(1));
  if (n && c < 1) throw std::invalid_argument("softmax expects at least one column");
  py::array_t<float> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(c)});
  float* dst = out.mutable_data();
  if (py::isinstance<py::array_t<float>>(x)) {
    FloatArray f = FloatArray::ensure(x);
    py::gil_scoped_release release;
    SoftmaxRows(f.data(), dst, n, c);
  } else {
    DoubleArray d = DoubleArray::ensure(x);
    py::gil_scoped_release release;
    SoftmaxRows(d.data(), dst, n, c);
  }
  return out;
}

py::tuple SegmentTuple(const SegmentEvent& s) {
  return py::make_tuple(s.start, s.end, ToArray(s.stats.counts), ToArray(s.stats.post_sum));
}

}  // namespace

void PybindSegmentTracker(py::module_& m) {
  m.def("softmax", &Softmax, py::arg("logits"), "Row softmax of a (n, c) array, computed in float64, float32 out.");
  py::class_<SegmentTracker>(m, "SegmentTracker",
                             "Per-stream CTC bookkeeping: softmax and argmax once per frame; whole-input "
                             "best-path statistics, spike events, and segments closed by endpoint or length.")
      .def(py::init([](int num_classes, int blank, int endpoint_frames, int64_t max_frames, bool spikes,
                       bool speech_segments) {
             SegmentTrackerOptions o;
             o.num_classes = num_classes;
             o.blank = blank;
             o.endpoint_frames = endpoint_frames;
             o.max_frames = max_frames;
             o.spikes = spikes;
             o.speech_segments = speech_segments;
             return SegmentTracker(o);
           }),
           py::arg("num_classes") = 5, py::arg("blank") = 0, py::arg("endpoint_frames") = 50,
           py::arg("max_frames") = 3000, py::arg("spikes") = true,
           py::arg("speech_segments") = false)
      .def("accept_logits", &AcceptLogits, py::arg("logits"), py::arg("speech") = py::none(),
           "Append (n, num_classes) logits and optionally their (n,) speech flags; returns their "
           "posteriors (float32).")
      .def("accept_posteriors", &AcceptPosteriors, py::arg("posteriors"), py::arg("speech") = py::none(),
           "Append (n, num_classes) frame probabilities and optionally their (n,) speech flags.")
      .def("close", &SegmentTracker::Close, "End of input: queue the open segment, if any.")
      .def("reset", &SegmentTracker::Reset)
      .def("pop_spikes",
           [](SegmentTracker& t) {
             std::vector<std::pair<int, int64_t>> out;
             for (const auto& s : t.PopSpikes()) out.emplace_back(s.label, s.frame);
             return out;
           },
           "(output_index, frame) of the spikes queued since the last call.")
      .def("pop_segments",
           [](SegmentTracker& t) {
             py::list out;
             for (const auto& s : t.PopSegments()) out.append(SegmentTuple(s));
             return out;
           },
           "(start, end, counts, post_sum) of the segments closed since the last call; frames "
           "[start, end), counts int64 and post_sum float64 per output.")
      .def_property_readonly("num_classes", [](const SegmentTracker& t) { return t.Options().num_classes; })
      .def_property_readonly("blank", [](const SegmentTracker& t) { return t.Options().blank; })
      .def_property_readonly("endpoint_frames", [](const SegmentTracker& t) { return t.Options().endpoint_frames; })
      .def_property_readonly("max_frames", [](const SegmentTracker& t) { return t.Options().max_frames; })
      .def_property_readonly("num_frames", &SegmentTracker::NumFrames, "Frames accepted.")
      .def_property_readonly("counts", [](const SegmentTracker& t) { return ToArray(t.Total().counts); },
                             "Decoded labels of the whole input per output index, int64.")
      .def_property_readonly("post_sum", [](const SegmentTracker& t) { return ToArray(t.Total().post_sum); },
                             "Posteriors of the whole input summed per output index, float64.")
      .def_property_readonly("is_endpoint", &SegmentTracker::IsEndpoint,
                             "True while at least endpoint_frames Null frames followed the last segment.")
      .def_property_readonly("open_start",
                             [](const SegmentTracker& t) -> py::object {
                               if (t.OpenStart() < 0) return py::none();
                               return py::int_(t.OpenStart());
                             },
                             "First frame of the open segment, None if none is open.")
      .def_property_readonly("open_frames", &SegmentTracker::OpenFrames,
                             "Frames of the open segment through its last active frame.")
      .def_property_readonly("oldest_open_frame", &SegmentTracker::OldestOpenFrame)
      .def_property_readonly("null_run", &SegmentTracker::NullRun)
      .def_property_readonly("speech_segments", [](const SegmentTracker& t) { return t.Options().speech_segments; })
      .def_property_readonly("num_speech_frames", &SegmentTracker::NumSpeechFrames, "Frames flagged speech.")
      .def_property_readonly("num_queued", &SegmentTracker::NumQueued, "Events queued, not yet popped.");
}

}  // namespace ser
