// Python binding of ser/lstm.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "ser/lstm.h"

namespace py = pybind11;

namespace ser {

namespace {

[[noreturn]] void Fail(const std::string& what) { throw std::invalid_argument(what); }

bool IsFloat32(const py::array& a) { return py::isinstance<py::array_t<float>>(a); }

// A float32 array of the given shape, C-contiguous, writeable if asked.
void CheckDense(const py::array& a, const char* name, std::initializer_list<int64_t> shape, bool writeable) {
  std::string want;
  for (int64_t d : shape) want += (want.empty() ? "(" : ", ") + std::to_string(d);
  want += ")";
  bool ok = IsFloat32(a) && a.ndim() == static_cast<py::ssize_t>(shape.size());
  int i = 0;
  for (int64_t d : shape) ok = ok && a.shape(i++) == d;
  if (!ok) Fail(std::string(name) + " must be a float32 array of shape " + want);
  if (!(a.flags() & py::array::c_style)) Fail(std::string(name) + " must be C-contiguous");
  if (writeable && !a.writeable()) Fail(std::string(name) + " must be writeable");
}

int64_t Strips(int64_t cols) { return (cols + kStrip - 1) / kStrip; }

// A weight matrix (rows, cols): float32 with unit stride along cols (rows may be strided),
// or packed by pack_columns, (ceil(cols / 64), rows, 64) C-contiguous.
WeightMatrix Weights(const py::array& w, const std::string& name, int64_t rows, int64_t cols) {
  const py::ssize_t f = sizeof(float);
  const std::string shape = "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
  if (IsFloat32(w) && w.ndim() == 2 && w.shape(0) == rows && w.shape(1) == cols) {
    if (rows == 0 || cols == 0) return WeightMatrix::RowMajor(static_cast<const float*>(w.data()), cols);
    if ((cols > 1 && w.strides(1) != f) || (rows > 1 && (w.strides(0) <= 0 || w.strides(0) % f)))
      Fail(name + " must have unit stride along its columns");
    return WeightMatrix::RowMajor(static_cast<const float*>(w.data()), rows > 1 ? w.strides(0) / f : cols);
  }
  if (IsFloat32(w) && w.ndim() == 3 && w.shape(0) == Strips(cols) && w.shape(1) == rows && w.shape(2) == kStrip) {
    if (!(w.flags() & py::array::c_style)) Fail(name + " (packed) must be C-contiguous");
    return WeightMatrix::Packed(static_cast<const float*>(w.data()), rows);
  }
  Fail(name + " must be a float32 array of shape " + shape + " or that packed by pack_columns");
}

py::array PackPy(py::array w) {
  if (!IsFloat32(w) || w.ndim() != 2) Fail("pack_columns: w must be a float32 array (rows, cols)");
  const int64_t rows = w.shape(0), cols = w.shape(1);
  const WeightMatrix m = Weights(w, "pack_columns: w", rows, cols);
  py::array_t<float> out({Strips(cols), rows, static_cast<int64_t>(kStrip)});
  float* p = out.mutable_data();
  {
    py::gil_scoped_release release;
    PackColumns(m.data, rows, cols, m.row_stride, p);
  }
  return out;
}

void AffinePy(py::array x, py::array w, py::array b, py::array out) {
  if (!IsFloat32(x) || x.ndim() != 2) Fail("affine: x must be a float32 array (rows, in_dim)");
  if (!IsFloat32(b) || b.ndim() != 1) Fail("affine: b must be a float32 array (out_dim,)");
  const int64_t rows = x.shape(0), in_dim = x.shape(1), out_dim = b.shape(0);
  CheckDense(x, "affine: x", {rows, in_dim}, false);
  CheckDense(b, "affine: b", {out_dim}, false);
  CheckDense(out, "affine: out", {rows, out_dim}, true);
  const WeightMatrix wm = Weights(w, "affine: w", in_dim, out_dim);
  LstmAffineArgs a;
  a.rows = rows;
  a.in_dim = in_dim;
  a.out_dim = out_dim;
  a.x = static_cast<const float*>(x.data());
  a.w = wm;
  a.b = static_cast<const float*>(b.data());
  a.out = static_cast<float*>(out.mutable_data());
  py::gil_scoped_release release;
  LstmAffine(a);
}

void Recur(py::array gates_x, py::array counts, py::array w_hh_t, py::array h, py::array c, py::array out) {
  if (!IsFloat32(gates_x) || gates_x.ndim() != 3 || gates_x.shape(2) % 4)
    Fail("lstm_recur: gates_x must be a float32 array of shape (T, S, 4H)");
  const int64_t n_t = gates_x.shape(0), n_s = gates_x.shape(1), n_h = gates_x.shape(2) / 4;
  const py::ssize_t f = sizeof(float);
  if (gates_x.size() > 0 && (gates_x.strides(2) != f || gates_x.strides(0) % f || gates_x.strides(1) % f))
    Fail("lstm_recur: gates_x must have unit stride on its last axis");
  const WeightMatrix w = Weights(w_hh_t, "lstm_recur: w_hh_t (H = gates_x.shape[2] / 4)", n_h, 4 * n_h);
  CheckDense(h, "lstm_recur: h", {n_s, n_h}, true);
  CheckDense(c, "lstm_recur: c", {n_s, n_h}, true);
  CheckDense(out, "lstm_recur: out", {n_t, n_s, n_h}, true);
  const char kind = counts.dtype().kind();
  if (counts.ndim() != 1 || counts.shape(0) != n_t || !(kind == 'i' || kind == 'u'))
    Fail("lstm_recur: counts must be an integer array of shape (T,)");
  if (h.data() == c.data() && n_s * n_h > 0) Fail("lstm_recur: h and c must be different arrays");
  auto steps = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(counts);
  LstmRecurArgs a;
  a.num_steps = n_t;
  a.num_streams = n_s;
  a.hidden = n_h;
  a.gates_x = static_cast<const float*>(gates_x.data());
  a.gates_step_stride = gates_x.strides(0) / f;
  a.gates_stream_stride = gates_x.strides(1) / f;
  a.counts = steps.data();
  a.w_hh_t = w;
  a.h = static_cast<float*>(h.mutable_data());
  a.c = static_cast<float*>(c.mutable_data());
  a.out = static_cast<float*>(out.mutable_data());
  py::gil_scoped_release release;
  LstmRecur(a);
}

}  // namespace

void PybindLstm(py::module_& m) {
  m.def("lstm_recur", &Recur, py::arg("gates_x"), py::arg("counts"), py::arg("w_hh_t"), py::arg("h"),
        py::arg("c"), py::arg("out"),
        "LSTM recurrence over time-major input gates gates_x (T, S, 4H), gate order i, f, g, o.\n\n"
        "At step t only streams [0, counts[t]) step; counts must not increase. h, c (S, H) are\n"
        "the initial states and are updated in place; out (T, S, H) gets h_t (rows of inactive\n"
        "streams are left alone). w_hh_t is (H, 4H). All float32; h, c, out, w_hh_t C-contiguous;\n"
        "gates_x may be any view with a contiguous last axis. Raises ValueError otherwise.");
  m.def("affine", &AffinePy, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("out"),
        "out = x @ w + b for float32 C-contiguous x (n, K), b (N,), out (n, N); w (K, N) as for\n"
        "lstm_recur (rows may be strided, or packed). The BiLSTM's input projection.");
  m.def("pack_columns", &PackPy, py::arg("w"),
        "w (K, N) float32 in column strips of 64: (ceil(N / 64), K, 64), zero-padded; the weight\n"
        "layout that lstm_recur and affine read fastest.");
}

}  // namespace ser
