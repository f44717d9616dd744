// The virtual functions of a Java autograd function's graph node (arelu_node_functions in arelu.h).
//
// io.github.arelu.autograd copies the virtual table of a libtorch node (the carrier) and points four of
// its entries here: apply, which libtorch's engine calls with the node's incoming gradients, name, and the
// two destructors. We have no libtorch headers, so these are free functions with a member's calling
// convention: under the Itanium C++ ABI a member function takes `this` as its first argument, after the
// hidden pointer to a returned class object, exactly as a free function taking the node first does.
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "arelu.h"

namespace {

// std::vector<at::Tensor> as libtorch passes it: an at::Tensor is one intrusive pointer, so the vector is
// laid out as std::vector<void*>. Here it is only moved, never copied or destroyed with elements in it:
// counting the tensors' references is libtorch's (the Java side fills the vector through libtorch's code).
using TensorSlots = std::vector<void*>;

arelu_node_apply_fn apply_callback = nullptr;
arelu_node_name_fn name_callback = nullptr;
arelu_node_died_fn died_callback = nullptr;
void (*original_complete_destructor)(void*) = nullptr;
void (*original_deleting_destructor)(void*) = nullptr;

constexpr size_t kMessageBytes = 4096;
constexpr size_t kNameBytes = 256;

// variable_list Node::apply(variable_list&& inputs).
TensorSlots node_apply(void* node, TensorSlots&& gradients) {
  TensorSlots results;
  char message[kMessageBytes];
  message[0] = '\0';
  if (apply_callback(node, &gradients, &results, message, kMessageBytes) != 0) {
    // The callback left results empty. The engine hands the exception to the caller of backward().
    message[kMessageBytes - 1] = '\0';
    throw std::runtime_error(message[0] != '\0' ? message : "a Java autograd function's backward failed");
  }
  return results;
}

// std::string Node::name() const.
std::string node_name(const void* node) {
  char name[kNameBytes];
  name[0] = '\0';
  name_callback(node, name, kNameBytes);
  name[kNameBytes - 1] = '\0';
  return std::string(name);
}

// Node::~Node(), complete-object and deleting: report, then let libtorch destroy (and free) the node.
void node_complete_destructor(void* node) {
  died_callback(node);
  original_complete_destructor(node);
}

void node_deleting_destructor(void* node) {
  died_callback(node);
  original_deleting_destructor(node);
}

}  // namespace

extern "C" {

int arelu_node_functions(arelu_node_apply_fn apply, arelu_node_name_fn name, arelu_node_died_fn died,
                         void* complete_destructor, void* deleting_destructor, void** functions) {
  if (apply == nullptr || name == nullptr || died == nullptr || complete_destructor == nullptr
      || deleting_destructor == nullptr || functions == nullptr) {
    return ARELU_ERR_NULL_POINTER;
  }
  // Nodes already made call the first caller's Java code; replacing it would send them to another class
  // loader's records, which do not know them.
  static std::atomic<bool> registered{false};
  if (registered.exchange(true)) {
    return ARELU_ERR_ALREADY_REGISTERED;
  }
  apply_callback = apply;
  name_callback = name;
  died_callback = died;
  original_complete_destructor = reinterpret_cast<void (*)(void*)>(complete_destructor);
  original_deleting_destructor = reinterpret_cast<void (*)(void*)>(deleting_destructor);
  TensorSlots (*apply_entry)(void*, TensorSlots&&) = node_apply;
  functions[0] = reinterpret_cast<void*>(apply_entry);
  functions[1] = reinterpret_cast<void*>(&node_complete_destructor);
  functions[2] = reinterpret_cast<void*>(&node_deleting_destructor);
  std::string (*name_entry)(const void*) = node_name;
  functions[3] = reinterpret_cast<void*>(name_entry);
  return ARELU_OK;
}

}  // extern "C"
