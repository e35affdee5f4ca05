// numpy conversions shared by the binding files.
#pragma once

#include <pybind11/numpy.h>

#include <algorithm>
#include <vector>

namespace ser {

using FloatArray = pybind11::array_t<float, pybind11::array::c_style | pybind11::array::forcecast>;

template <typename T>
pybind11::array_t<T> ToArray(const std::vector<T>& v) {
  pybind11::array_t<T> out(static_cast<pybind11::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

}  // namespace ser
