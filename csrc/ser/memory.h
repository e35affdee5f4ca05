// Heap bytes held by containers, for a stream's memory accounting (capacity, not size; the
// allocator's own overhead is not counted).
#ifndef SER_MEMORY_H_
#define SER_MEMORY_H_

#include <cstdint>
#include <vector>

namespace ser {

template <typename T>
int64_t HeapBytes(const std::vector<T>& v) {
  return static_cast<int64_t>(v.capacity() * sizeof(T));
}

template <typename T, typename... Rest>
int64_t HeapBytes(const std::vector<T>& v, const Rest&... rest) {
  return HeapBytes(v) + HeapBytes(rest...);
}

}  // namespace ser

#endif  // SER_MEMORY_H_
