// The shipped libarelu.so: it loads on a machine without GPU or driver, answers the ABI version, runs
// the CPU kernels, and its CUDA entry points fail cleanly when there is no CUDA (stub build) or no device.
#include "arelu.h"

#include <gtest/gtest.h>

#include <vector>

TEST(AreluSharedLibrary, AbiAndCpuKernels) {
  EXPECT_EQ(arelu_abi_version(), ARELU_ABI_VERSION);
  std::vector<float> x = {-2.0f, -0.0f, 0.0f, 3.0f};
  std::vector<float> y(x.size());
  ASSERT_EQ(arelu_forward_f32(x.data(), y.data(), x.size(), 0.5f, 1.5f, 2), ARELU_OK);
  EXPECT_EQ(y, (std::vector<float>{-1.0f, -0.0f, 0.0f, 4.5f}));
  double ns, ps;
  ASSERT_EQ(arelu_backward_f32(x.data(), x.data(), nullptr, x.size(), 0.5f, 1.5f, &ns, &ps, 1), ARELU_OK);
  EXPECT_EQ(ns, 4.0);
  EXPECT_EQ(ps, 9.0);
}

TEST(AreluSharedLibrary, CudaEntryPointsWithoutDevice) {
  const int available = arelu_cuda_available();
  ASSERT_TRUE(available == 0 || available == 1);
  if (available) GTEST_SKIP() << "a CUDA device is present; arelu_cuda_check covers it";
  float x = 1.0f;
  const int st = arelu_cuda_forward_f32(&x, &x, 1, 0.5f, 1.5f, nullptr);
  EXPECT_TRUE(st == ARELU_ERR_NO_CUDA || st == ARELU_ERR_CUDA) << arelu_error_string(st);
  // Argument errors do not need a device (in a stub build everything is ARELU_ERR_NO_CUDA).
  const int bad = arelu_cuda_forward_f32(&x, &x, -1, 0.5f, 1.5f, nullptr);
  EXPECT_TRUE(bad == ARELU_ERR_NO_CUDA || bad == ARELU_ERR_BAD_SIZE);
}
