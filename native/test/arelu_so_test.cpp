// The shipped libarelu.so: it loads on a machine without GPU or driver, answers the ABI version, runs
// the CPU kernels, and its CUDA entry points fail cleanly when there is no CUDA (stub build) or no device.
#include "arelu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Bit for bit: == takes -0.0f for 0.0f, and the signs of zeros are part of the results.
void expect_bits(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(0, std::memcmp(&got[i], &want[i], sizeof(float)))
        << "element " << i << ": " << got[i] << " (signbit " << std::signbit(got[i]) << "), want " << want[i]
        << " (signbit " << std::signbit(want[i]) << ")";
  }
}

}  // namespace

TEST(AreluSharedLibrary, AbiAndCpuKernels) {
  EXPECT_EQ(arelu_abi_version(), ARELU_ABI_VERSION);
  std::vector<float> x = {-2.0f, -0.0f, 0.0f, 3.0f};
  std::vector<float> y(x.size());
  ASSERT_EQ(arelu_forward_f32(x.data(), y.data(), x.size(), 0.5f, 1.5f, 2), ARELU_OK);
  // x == 0 keeps its signed zero.
  expect_bits(y, {-1.0f, -0.0f, 0.0f, 4.5f});
  double ns, ps;
  ASSERT_EQ(arelu_backward_f32(x.data(), x.data(), nullptr, x.size(), 0.5f, 1.5f, &ns, &ps, 1), ARELU_OK);
  EXPECT_EQ(ns, 4.0);
  EXPECT_EQ(ps, 9.0);
  // The input gradient's zeros have the reference's signs: +0 at x == 0 (either sign), -0 for g = -0 at x > 0.
  const std::vector<float> g = {1.0f, 1.0f, -1.0f, -0.0f};
  std::vector<float> gi(x.size(), 7.0f);
  ASSERT_EQ(arelu_backward_f32(g.data(), x.data(), gi.data(), x.size(), 0.5f, 1.5f, &ns, &ps, 1), ARELU_OK);
  expect_bits(gi, {0.5f, 0.0f, 0.0f, -0.0f});
  EXPECT_EQ(ns, -2.0);
  EXPECT_EQ(ps, 0.0);
}

namespace {
int calls_back = 0;
void count_call() { ++calls_back; }
}  // namespace

// arelu_call_back calls its function once, in the caller's thread, before it returns; NULL is no call.
TEST(AreluSharedLibrary, CallBackCallsOnce) {
  calls_back = 0;
  arelu_call_back(count_call);
  EXPECT_EQ(calls_back, 1);
  arelu_call_back(nullptr);
  EXPECT_EQ(calls_back, 1);
}

namespace {
std::shared_ptr<int> held;
std::shared_ptr<int> held_or_empty(uint64_t index) { return index == 0 ? held : nullptr; }
std::shared_ptr<int> throws(uint64_t) { throw std::runtime_error("no"); }
}  // namespace

// arelu_shared_ptr_is_set tells a set from an empty result and releases the reference it was handed.
TEST(AreluSharedLibrary, SharedPtrIsSetReleasesTheResult) {
  held = std::make_shared<int>(7);
  std::shared_ptr<int> (*get)(uint64_t) = held_or_empty;
  EXPECT_EQ(arelu_shared_ptr_is_set(reinterpret_cast<void*>(get), 0), 1);
  EXPECT_EQ(held.use_count(), 1) << "the returned copy was released";
  EXPECT_EQ(arelu_shared_ptr_is_set(reinterpret_cast<void*>(get), 1), 0);
  std::shared_ptr<int> (*failing)(uint64_t) = throws;
  EXPECT_EQ(arelu_shared_ptr_is_set(reinterpret_cast<void*>(failing), 0), -1);
  EXPECT_EQ(arelu_shared_ptr_is_set(nullptr, 0), -1);
  held.reset();
}

namespace {
std::shared_ptr<int> current;
std::shared_ptr<int> current_or_empty() { return current; }
std::shared_ptr<int> throws_without_argument() { throw std::runtime_error("no"); }
}  // namespace

// arelu_shared_ptr_points_to compares the returned pointer with the one given and releases the reference.
TEST(AreluSharedLibrary, SharedPtrPointsToComparesAndReleasesTheResult) {
  std::shared_ptr<int> (*get)() = current_or_empty;
  EXPECT_EQ(arelu_shared_ptr_points_to(reinterpret_cast<void*>(get), nullptr), 1) << "empty, asked about NULL";
  current = std::make_shared<int>(7);
  const int other = 7;
  EXPECT_EQ(arelu_shared_ptr_points_to(reinterpret_cast<void*>(get), current.get()), 1);
  EXPECT_EQ(current.use_count(), 1) << "the returned copy was released";
  EXPECT_EQ(arelu_shared_ptr_points_to(reinterpret_cast<void*>(get), &other), 0);
  std::shared_ptr<int> (*failing)() = throws_without_argument;
  EXPECT_EQ(arelu_shared_ptr_points_to(reinterpret_cast<void*>(failing), current.get()), -1);
  EXPECT_EQ(arelu_shared_ptr_points_to(nullptr, current.get()), -1);
  current.reset();
}

TEST(AreluSharedLibrary, CudaEntryPointsWithoutDevice) {
  const int available = arelu_cuda_available();
  ASSERT_TRUE(available == 0 || available == 1);
  if (available) GTEST_SKIP() << "a CUDA device is present; arelu_cuda_check covers it";
  float x = 1.0f;
  const int st = arelu_cuda_forward_f32(&x, &x, 1, 0.5f, 1.5f, nullptr);
  EXPECT_TRUE(st == ARELU_ERR_NO_CUDA || st == ARELU_ERR_CUDA) << arelu_error_string(st);
  if (st == ARELU_ERR_CUDA) {
    // The CUDA runtime's own error comes with it, by name: here no device or no driver.
    const std::string message = arelu_error_string(st);
    EXPECT_EQ(message.rfind("a CUDA launch or runtime call failed (cudaError", 0), 0u) << message;
  }
  // Argument errors do not need a device (in a stub build everything is ARELU_ERR_NO_CUDA).
  const int bad = arelu_cuda_forward_f32(&x, &x, -1, 0.5f, 1.5f, nullptr);
  EXPECT_TRUE(bad == ARELU_ERR_NO_CUDA || bad == ARELU_ERR_BAD_SIZE);
}

// arelu_node_functions: the entries a Java autograd node's virtual table gets, called here as libtorch calls
// them (apply with the member calling convention, a free function taking the node first; destructors), with
// stand-ins for the Java callbacks and for libtorch's destructors. Vectors of pointers stand in for
// std::vector<at::Tensor>, whose layout they share.
namespace node_test {

std::vector<void*> seen;          // what the callbacks and the stand-in destructors saw, in order
void* marker(int i) { return reinterpret_cast<void*>(static_cast<uintptr_t>(0x1000 + i)); }

int apply_ok(void* node, void* gradients, void* results, char*, size_t) {
  seen.push_back(node);
  auto* in = static_cast<std::vector<void*>*>(gradients);
  auto* out = static_cast<std::vector<void*>*>(results);
  out->assign(in->rbegin(), in->rend());
  return 0;
}

int apply_failing(void*, void*, void*, char* message, size_t capacity) {
  std::snprintf(message, capacity, "%s", "MyFunction backward failed: deliberate");
  return 1;
}

// The callbacks are registered once per process: the Java side's apply, which here fails on request.
bool fail_apply = false;
int apply(void* node, void* gradients, void* results, char* message, size_t capacity) {
  return fail_apply ? apply_failing(node, gradients, results, message, capacity)
                    : apply_ok(node, gradients, results, message, capacity);
}

void name(const void* node, char* buffer, size_t capacity) {
  seen.push_back(const_cast<void*>(node));
  std::snprintf(buffer, capacity, "%s", "MyFunctionBackward");
}

void died(void* node) { seen.push_back(node); seen.push_back(marker(1)); }
void complete(void* node) { seen.push_back(node); seen.push_back(marker(2)); }
void deleting(void* node) { seen.push_back(node); seen.push_back(marker(3)); }

using Apply = std::vector<void*> (*)(void*, std::vector<void*>&&);
using Destructor = void (*)(void*);
using Name = std::string (*)(const void*);

}  // namespace node_test

TEST(AreluSharedLibrary, NodeFunctionsCallBackAndRaiseFailures) {
  using namespace node_test;
  void* functions[4] = {};
  EXPECT_EQ(arelu_node_functions(nullptr, name, died, reinterpret_cast<void*>(complete),
                                 reinterpret_cast<void*>(deleting), functions), ARELU_ERR_NULL_POINTER);
  ASSERT_EQ(arelu_node_functions(apply, name, died, reinterpret_cast<void*>(complete),
                                 reinterpret_cast<void*>(deleting), functions), ARELU_OK);
  void* node = marker(7);
  seen.clear();
  std::vector<void*> gradients = {marker(10), marker(11)};
  std::vector<void*> results = reinterpret_cast<Apply>(functions[0])(node, std::move(gradients));
  EXPECT_EQ(results, (std::vector<void*>{marker(11), marker(10)}));
  EXPECT_EQ(seen, (std::vector<void*>{node}));

  seen.clear();
  EXPECT_EQ(reinterpret_cast<Name>(functions[3])(node), "MyFunctionBackward");
  EXPECT_EQ(seen, (std::vector<void*>{node}));

  seen.clear();
  reinterpret_cast<Destructor>(functions[1])(node);
  reinterpret_cast<Destructor>(functions[2])(node);
  // Each destructor reports first, then runs libtorch's.
  EXPECT_EQ(seen, (std::vector<void*>{node, marker(1), node, marker(2), node, marker(1), node, marker(3)}));

  fail_apply = true;
  try {
    reinterpret_cast<Apply>(functions[0])(node, std::vector<void*>{marker(10)});
    FAIL() << "apply did not raise the callback's failure";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "MyFunction backward failed: deliberate");
  }
  fail_apply = false;

  // A second registration (another class loader's copy of the Java library) is refused and changes nothing:
  // the nodes made so far still call the first callbacks.
  void* again[4] = {};
  EXPECT_EQ(arelu_node_functions(apply_failing, name, died, reinterpret_cast<void*>(complete),
                                 reinterpret_cast<void*>(deleting), again), ARELU_ERR_ALREADY_REGISTERED);
  seen.clear();
  results = reinterpret_cast<Apply>(functions[0])(node, std::vector<void*>{marker(10), marker(12)});
  EXPECT_EQ(results, (std::vector<void*>{marker(12), marker(10)}));
  EXPECT_EQ(seen, (std::vector<void*>{node}));
  EXPECT_STREQ(arelu_error_string(ARELU_ERR_ALREADY_REGISTERED),
               "the node functions were registered before in this process");
}
