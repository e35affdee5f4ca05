// Python binding of ser/lc_blstm.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ser/lc_blstm.h"
#include "python/numpy_util.h"

namespace py = pybind11;

namespace ser {

namespace {

std::vector<float> Matrix(const FloatArray& a, int64_t rows, int64_t cols, const char* name) {
  if (a.ndim() != 2 || a.shape(0) != rows || a.shape(1) != cols)
    throw std::invalid_argument(std::string(name) + " must have shape (" + std::to_string(rows) + ", " +
                                std::to_string(cols) + ")");
  return std::vector<float>(a.data(), a.data() + rows * cols);
}

std::vector<float> Vector(const FloatArray& a, int64_t n, const char* name) {
  if (a.ndim() != 1 || a.shape(0) != n)
    throw std::invalid_argument(std::string(name) + " must have shape (" + std::to_string(n) + ",)");
  return std::vector<float>(a.data(), a.data() + n);
}

// The LC-BLSTM with its own thread pool, for Python (tests and the batch path).
struct PyLcBlstm {
  LcBlstm lstm;
  ThreadPool pool;
};

py::list Step(PyLcBlstm& self, py::list states, py::list inputs, py::object finish) {
  const size_t n = states.size();
  if (inputs.size() != n) throw std::invalid_argument("step: one input per state");
  std::vector<FloatArray> frames;
  std::vector<LcBlstmInput> args(n);
  std::vector<std::vector<float>> logits(n);
  const int d = self.lstm.InputDim();
  for (size_t i = 0; i < n; ++i) {
    args[i].state = states[i].cast<LcBlstmState*>();
    if (!inputs[i].is_none()) {
      frames.push_back(FloatArray::ensure(inputs[i]));
      const FloatArray& x = frames.back();
      if (!x || x.ndim() != 2 || x.shape(1) != d)
        throw std::invalid_argument("step: frames must be (n, " + std::to_string(d) + ")");
      args[i].frames = x.data();
      args[i].num_frames = x.shape(0);
    }
    args[i].finish = py::isinstance<py::bool_>(finish) ? finish.cast<bool>() : finish.cast<py::list>()[i].cast<bool>();
    args[i].logits = &logits[i];
  }
  {
    py::gil_scoped_release release;
    self.lstm.Step(args, &self.pool);
  }
  py::list out;
  const int64_t o = self.lstm.NumOutputs();
  for (auto& v : logits) {
    py::array_t<float> a({static_cast<int64_t>(v.size()) / o, o});
    std::copy(v.begin(), v.end(), a.mutable_data());
    out.append(a);
  }
  return out;
}

}  // namespace

LcBlstmWeights LcBlstmWeightsFrom(FloatArray w_in, FloatArray b_in, FloatArray w_hh_fwd, FloatArray w_hh_bwd,
                                  FloatArray w_out, FloatArray b_out) {
  LcBlstmWeights w;
  if (w_in.ndim() != 2 || w_in.shape(1) % 8 || b_out.ndim() != 1)
    throw std::invalid_argument("w_in must be (D, 8H) and b_out (O,)");
  w.input_dim = static_cast<int>(w_in.shape(0));
  w.hidden = static_cast<int>(w_in.shape(1) / 8);
  w.num_outputs = static_cast<int>(b_out.shape(0));
  const int64_t h = w.hidden;
  w.w_in = Matrix(w_in, w.input_dim, 8 * h, "w_in");
  w.b_in = Vector(b_in, 8 * h, "b_in");
  w.w_hh_fwd = Matrix(w_hh_fwd, h, 4 * h, "w_hh_fwd");
  w.w_hh_bwd = Matrix(w_hh_bwd, h, 4 * h, "w_hh_bwd");
  w.w_out = Matrix(w_out, 2 * h, w.num_outputs, "w_out");
  w.b_out = Vector(b_out, w.num_outputs, "b_out");
  return w;
}

void PybindLcBlstm(py::module_& m) {
  py::class_<LcBlstmState>(m, "LcBlstmState", "One stream's LC-BLSTM state (forward h, c and pending frames).")
      .def_property_readonly("pending", &LcBlstmState::Pending)
      .def_property_readonly("capacity", &LcBlstmState::Capacity)
      .def_readonly("frames_in", &LcBlstmState::frames_in)
      .def_readonly("frames_out", &LcBlstmState::frames_out);
  py::class_<PyLcBlstm>(m, "LcBlstm",
                        "Latency-controlled BiLSTM over many streams (csrc/ser/lc_blstm.h); weights "
                        "row-major as realtime_ser.lstm.LstmWeights lays them out; chunk_frames 0 is offline.")
      .def(py::init([](FloatArray w_in, FloatArray b_in, FloatArray w_hh_fwd, FloatArray w_hh_bwd, FloatArray w_out,
                       FloatArray b_out, int chunk_frames, int right_context_frames, int num_threads) {
             LcBlstmOptions o;
             o.chunk_frames = chunk_frames;
             o.right_context_frames = right_context_frames;
             return new PyLcBlstm{LcBlstm(LcBlstmWeightsFrom(w_in, b_in, w_hh_fwd, w_hh_bwd, w_out, b_out), o),
                                  ThreadPool(num_threads)};
           }),
           py::arg("w_in"), py::arg("b_in"), py::arg("w_hh_fwd"), py::arg("w_hh_bwd"), py::arg("w_out"),
           py::arg("b_out"), py::arg("chunk_frames"), py::arg("right_context_frames"), py::arg("num_threads") = 1)
      .def("new_state", [](const PyLcBlstm& self) { return self.lstm.NewState(); })
      .def("step", &Step, py::arg("states"), py::arg("inputs"), py::arg("finish") = false,
           "Advance states[i] by inputs[i] ((n_i, D) or None); returns the logits of the frames now final, "
           "per stream. finish: bool or one per stream.")
      .def_property_readonly("num_threads", [](const PyLcBlstm& self) { return self.pool.NumThreads(); });
}

}  // namespace ser
