#include "ser/descriptor.h"

#include <stdexcept>

namespace ser {

std::vector<DescriptorInfo> ExpandDescriptors(const DescriptorBlock* table, int n) {
  std::vector<DescriptorInfo> out;
  for (int b = 0; b < n; ++b) {
    const DescriptorBlock& block = table[b];
    const std::string pattern = block.name;
    const size_t hash = pattern.find('#');
    for (int i = 0; i < block.size; ++i) {
      std::string name;
      if (block.names) {
        name = block.names[i];
      } else if (hash != std::string::npos) {
        name = pattern.substr(0, hash) + std::to_string(block.first + i) + pattern.substr(hash + 1);
      } else if (block.size == 1) {
        name = pattern;
      } else {
        throw std::logic_error("descriptor block " + pattern + ": several outputs need '#' or names");
      }
      out.push_back({name, block.delta_order});
    }
  }
  return out;
}

}  // namespace ser
