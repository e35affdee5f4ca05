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

// Empties v, and gives its memory back when it holds far more than `next` elements (what the next
// use needs), so that one big input does not pin its buffers for the rest of the stream.
template <typename T>
void Release(std::vector<T>& v, size_t next) {
  v.clear();
  if (v.capacity() > 4 * next + 1024) v.shrink_to_fit();
}

}  // namespace ser

#endif  // SER_MEMORY_H_
