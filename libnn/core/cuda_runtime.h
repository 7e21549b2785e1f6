// The CUDA runtime calls libnn needs, behind plain functions so that no libnn header includes
// cuda_runtime.h. Implemented in cuda_runtime.cu, or in cuda_runtime_stub.cpp for builds without CUDA
// (there every call but the queries throws "built without CUDA").
#pragma once

#include <cstddef>

namespace nn::cuda {

void* malloc_device(std::size_t bytes);  // nullptr when out of memory
void free_device(void* ptr);
// Page-locked host memory: the GPU's DMA engines read it directly, so host-to-device copies from it run at
// full bus speed and can be asynchronous. nullptr when it cannot be had.
void* malloc_host_pinned(std::size_t bytes);
void free_host_pinned(void* ptr);
void copy_host_to_device(void* dst, const void* src, std::size_t bytes);
void copy_device_to_host(void* dst, const void* src, std::size_t bytes);
void copy_device_to_device(void* dst, const void* src, std::size_t bytes);
void synchronize();
void fill_f32(float* dst, std::size_t n, float value);

}  // namespace nn::cuda
