// Descriptor tables: each component lists its output blocks once (name, size, delta order),
// and both its output slots and the names the set reports are derived from that list.
#ifndef SER_DESCRIPTOR_H_
#define SER_DESCRIPTOR_H_

#include <string>
#include <vector>

namespace ser {

// A descriptor's stable name and how many differences (0, 1 or 2) the set appends for it.
struct DescriptorInfo {
  std::string name;
  int delta_order;
};

// A run of `size` consecutive outputs of one kind. Names: `names[i]` when names is given;
// otherwise `name` itself for a single output, or `name` with its '#' replaced by first + i.
struct DescriptorBlock {
  int id;           // the block's enumerator: must equal its position in the table
  const char* name;
  int size;
  int delta_order;
  int first = 0;
  const char* const* names = nullptr;
};

// Output slot of the first value of block id.
template <int N>
constexpr int SlotOf(const DescriptorBlock (&table)[N], int id) {
  int slot = 0;
  for (int i = 0; i < id; ++i) slot += table[i].size;
  return slot;
}

template <int N>
constexpr int SizeOf(const DescriptorBlock (&table)[N], int id) {
  return table[id].size;
}

// Outputs in the table.
template <int N>
constexpr int TotalSize(const DescriptorBlock (&table)[N]) {
  return SlotOf(table, N);
}

// Outputs with at least `order` differences.
template <int N>
constexpr int CountWithDeltas(const DescriptorBlock (&table)[N], int order) {
  int n = 0;
  for (int i = 0; i < N; ++i) n += table[i].delta_order >= order ? table[i].size : 0;
  return n;
}

// Every block's id is its position (so enumerators, slots and names cannot drift apart).
template <int N>
constexpr bool IdsInOrder(const DescriptorBlock (&table)[N]) {
  for (int i = 0; i < N; ++i)
    if (table[i].id != i) return false;
  return true;
}

// Names and delta orders of every output, in slot order.
std::vector<DescriptorInfo> ExpandDescriptors(const DescriptorBlock* table, int n);

template <int N>
std::vector<DescriptorInfo> ExpandDescriptors(const DescriptorBlock (&table)[N]) {
  return ExpandDescriptors(table, N);
}

}  // namespace ser

#endif  // SER_DESCRIPTOR_H_
