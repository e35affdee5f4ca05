// Python binding of ser/delta.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "ser/delta.h"

namespace py = pybind11;

namespace ser {

namespace {

using IndexArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

[[noreturn]] void Fail(const std::string& what) { throw std::invalid_argument("delta_block: " + what); }

IndexArray Indices(const py::array& a, const char* name) {
  if (a.ndim() != 1 || !(a.dtype().kind() == 'i' || a.dtype().kind() == 'u'))
    Fail(std::string(name) + " must be a 1-D integer array");
  return IndexArray::ensure(a);
}

void Delta(py::array hist, int64_t hist_start, int64_t n_total, int64_t t0, int64_t t1, py::array d_cols,
           py::array dd_cols, py::array out) {
  const py::ssize_t f = sizeof(float);
  if (!py::isinstance<py::array_t<float>>(hist) || hist.ndim() != 2 || !(hist.flags() & py::array::c_style))
    Fail("hist must be a C-contiguous float32 array (frames, columns)");
  IndexArray d = Indices(d_cols, "d_cols"), dd = Indices(dd_cols, "dd_cols");
  if (!py::isinstance<py::array_t<float>>(out) || out.ndim() != 2 || !out.writeable())
    Fail("out must be a writeable float32 array (t1 - t0, columns)");
  if (t0 < 0 || t1 < t0 || t1 > n_total) Fail("need 0 <= t0 <= t1 <= n_total");
  if (out.shape(0) != t1 - t0 || out.shape(1) < d.shape(0) + dd.shape(0))
    Fail("out must have t1 - t0 rows and at least len(d_cols) + len(dd_cols) columns");
  if (out.size() > 0 && ((out.shape(1) > 1 && out.strides(1) != f) ||
                         (out.shape(0) > 1 && (out.strides(0) < out.shape(1) * f || out.strides(0) % f))))
    Fail("out rows must be contiguous and in order");
  DeltaBlockArgs a;
  a.hist = static_cast<const float*>(hist.data());
  a.hist_rows = hist.shape(0);
  a.hist_cols = hist.shape(1);
  a.hist_start = hist_start;
  a.n_total = n_total;
  a.t0 = t0;
  a.t1 = t1;
  a.d_cols = d.data();
  a.num_d = d.shape(0);
  a.dd_cols = dd.data();
  a.num_dd = dd.shape(0);
  a.out = static_cast<float*>(out.mutable_data());
  a.out_row_stride = out.shape(0) > 1 ? out.strides(0) / f : out.shape(1);
  py::gil_scoped_release release;
  DeltaBlock(a);
}

}  // namespace

void PybindDelta(py::module_& m) {
  m.attr("DELTA_WINDOW") = kDeltaWindow;
  m.attr("DELTA_LOOKAHEAD") = kDeltaLookahead;
  m.def("delta_block", &Delta, py::arg("hist"), py::arg("hist_start"), py::arg("n_total"), py::arg("t0"),
        py::arg("t1"), py::arg("d_cols"), py::arg("dd_cols"), py::arg("out"),
        "Deltas of frames [t0, t1) into out[:, :len(d_cols) + len(dd_cols)].\n\n"
        "hist (float32) holds base frames with absolute indices hist_start .. hist_start + len(hist) - 1\n"
        "and must cover [t0 - 2N, t1 + 2N) clamped to [0, n_total). Frame indices are clamped to\n"
        "[0, n_total - 1] (edge replication). d_cols / dd_cols pick the columns that get first /\n"
        "second deltas; dd_cols are positions into d_cols. Raises ValueError on bad arguments.");
}

}  // namespace ser
