// Python binding of ser/online_stream.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "ser/online_stream.h"
#include "python/numpy_util.h"

namespace py = pybind11;

namespace ser {

NormalizerOptions NormalizerOptionsFrom(const py::dict& kw);
LcBlstmWeights LcBlstmWeightsFrom(FloatArray w_in, FloatArray b_in, FloatArray w_hh_fwd, FloatArray w_hh_bwd,
                                  FloatArray w_out, FloatArray b_out);

namespace {

py::array_t<float> Posteriors(const OnlineStream& s) {
  const int64_t c = s.Tracker().Options().num_classes;
  const auto& p = s.Posteriors();
  py::array_t<float> out({static_cast<int64_t>(p.size()) / c, c});
  std::copy(p.begin(), p.end(), out.mutable_data());
  return out;
}

void Decode(OnlineRecognizer& self, const py::list& streams) {
  std::vector<OnlineStream*> ptrs;
  for (const auto& s : streams) ptrs.push_back(s.cast<OnlineStream*>());
  py::gil_scoped_release release;
  self.DecodeStreams(ptrs.data(), static_cast<int64_t>(ptrs.size()));
}

}  // namespace

void PybindOnlineStream(py::module_& m) {
  py::class_<OnlineStream>(m, "OnlineStream",
                           "All of one stream's state: features, normalisation, LC-BLSTM, CTC tracking "
                           "(csrc/ser/online_stream.h). Made by OnlineRecognizer.create_stream().")
      .def("accept_waveform",
           [](OnlineStream& self, FloatArray x) {
             if (x.ndim() != 1) throw std::invalid_argument("accept_waveform expects a 1-D array");
             self.AcceptWaveform(x.data(), x.shape(0));
           },
           py::arg("samples"), "Queue 16 kHz float samples; the next decode_streams analyses them.")
      .def("input_finished", &OnlineStream::InputFinished)
      .def("reset", &OnlineStream::Reset, py::arg("adaptation") = false)
      .def_property_readonly("is_ready", &OnlineStream::IsReady)
      .def_property_readonly("is_finished", &OnlineStream::IsFinished)
      .def_property_readonly("is_done", &OnlineStream::IsDone)
      .def_property_readonly("finishing", &OnlineStream::Finishing)
      .def_property_readonly("num_samples", &OnlineStream::NumSamples)
      .def("memory",
           [](const OnlineStream& s) {
             const StreamMemory m = s.Memory();
             py::dict d;
             d["features"] = m.features;
             d["normalizer"] = m.normalizer;
             d["lstm"] = m.lstm;
             d["tracker"] = m.tracker;
             d["other"] = m.other;
             d["total"] = m.Total();
             return d;
           },
           "Bytes this stream holds, by owner (sizeof plus heap capacity).")
      .def_property_readonly("tracker", py::overload_cast<>(&OnlineStream::Tracker),
                             py::return_value_policy::reference_internal, "The stream's SegmentTracker.")
      .def_property_readonly("posteriors", &Posteriors, "Frame posteriors of the last decode (keep_posteriors).")
      .def_property_readonly("last_frames",
                             [](const OnlineStream& s) {
                               const int64_t d = FeatureDim();
                               const auto& f = s.LastFrames();
                               py::array_t<float> out({static_cast<int64_t>(f.size()) / d, d});
                               std::copy(f.begin(), f.end(), out.mutable_data());
                               return out;
                             },
                             "Normalised frames the last decode gave the LC-BLSTM, (n, FEATURE_DIM).")
      .def_property_readonly("posteriors_start", &OnlineStream::PosteriorsStart)
      .def_property_readonly("speech_frames", [](const OnlineStream& s) { return s.Norm().SpeechFrames(); })
      .def_property_readonly("lstm_pending", [](const OnlineStream& s) { return s.LstmState().Pending(); })
      .def_property_readonly("lstm_capacity", [](const OnlineStream& s) { return s.LstmState().Capacity(); })
      .def_property_readonly("feature_history", &OnlineStream::FeatureHistoryFrames)
      .def_property_readonly("queued_samples", &OnlineStream::QueuedSamples)
      .def_property_readonly("queued_speech", &OnlineStream::QueuedSpeech);

  py::class_<OnlineRecognizer>(m, "OnlineRecognizer",
                               "One model serving many OnlineStreams; decode_streams advances them together.")
      .def(py::init([](FloatArray w_in, FloatArray b_in, FloatArray w_hh_fwd, FloatArray w_hh_bwd, FloatArray w_out,
                       FloatArray b_out, int chunk_frames, int right_context_frames, int blank, int endpoint_frames,
                       int64_t max_frames, bool spikes, bool speech_segments, bool keep_posteriors, int num_threads,
                       py::dict normalizer) {
             OnlineRecognizerOptions o;
             o.chunking.chunk_frames = chunk_frames;
             o.chunking.right_context_frames = right_context_frames;
             o.tracker.num_classes = static_cast<int>(b_out.ndim() == 1 ? b_out.shape(0) : 0);
             o.tracker.blank = blank;
             o.tracker.endpoint_frames = endpoint_frames;
             o.tracker.max_frames = max_frames;
             o.tracker.spikes = spikes;
             o.tracker.speech_segments = speech_segments;
             o.normalizer = NormalizerOptionsFrom(normalizer);
             o.keep_posteriors = keep_posteriors;
             o.num_threads = num_threads;
             return new OnlineRecognizer(LcBlstmWeightsFrom(w_in, b_in, w_hh_fwd, w_hh_bwd, w_out, b_out), o);
           }),
           py::arg("w_in"), py::arg("b_in"), py::arg("w_hh_fwd"), py::arg("w_hh_bwd"), py::arg("w_out"),
           py::arg("b_out"), py::kw_only(), py::arg("chunk_frames"), py::arg("right_context_frames"),
           py::arg("blank"), py::arg("endpoint_frames"), py::arg("max_frames"), py::arg("spikes") = true,
           py::arg("speech_segments") = true, py::arg("keep_posteriors") = false, py::arg("num_threads") = 0, py::arg("normalizer"))
      .def("create_stream", &OnlineRecognizer::CreateStream, py::keep_alive<0, 1>())
      .def("decode_streams", &Decode, py::arg("streams"),
           "Advance the streams (GIL released): features and normalisation in the thread pool, one "
           "batched LC-BLSTM step, then CTC tracking.")
      .def_property_readonly("num_threads", &OnlineRecognizer::NumThreads);
}

}  // namespace ser
