// oneDNN kernels over caller-owned float32 buffers (tfjs tensors in the wasm heap).
// Every entry point takes the base of one buffer, its length in bytes, and a
// parameter block of doubles whose layout the matching .ts file documents; it
// checks each tensor lies inside the buffer before oneDNN touches it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tfleet {

// Thrown for a parameter block that does not describe tensors inside the buffer.
struct BadParams {
  std::string message;
};

void conv2d(uint8_t* heap, size_t heapBytes, const double* p, size_t count);
void matmul(uint8_t* heap, size_t heapBytes, const double* p, size_t count);
void pool2d(uint8_t* heap, size_t heapBytes, const double* p, size_t count);
void elementwise(uint8_t* heap, size_t heapBytes, const double* p, size_t count);
void sumLeading(uint8_t* heap, size_t heapBytes, const double* p, size_t count);
// dy · step(y) of a ReLU's output y, and (unless its offset is −1) the sum of its rows: the bias gradient.
void reluGradBias(uint8_t* heap, size_t heapBytes, const double* p, size_t count);
// One Adam step of a float32 variable as tfjs's AdamOptimizer computes it (subnormals flushed to zero): new value, m and v.
void adamFloat(uint8_t* heap, size_t heapBytes, const double* p, size_t count);

// The parameter server's loops over a key (host arrays, no tfjs): the same
// arithmetic, in the same order and precision, as their JavaScript forms.
struct AdamParams {
  double scale, lr, beta1, beta2, epsilon, c1, c2;
};
void adamStep(float* value, const double* sum, double* m, double* v, size_t n, const AdamParams& a);
// value -= lr · (sum · scale), or with momentum (accum given): accum = momentum · accum + sum · scale; value -= lr · accum.
void sgdStep(float* value, const double* sum, double* accum, size_t n, double scale, double lr, double momentum);
// accum += data; returns the sum of (x - x) over data: 0, or NaN when a value was not finite.
double addInto32(double* accum, const float* data, size_t n);
// accum = data (a step's first push); returns the sum of (x - x) as addInto32 does.
double overwrite32(double* accum, const float* data, size_t n);

void setThreads(int threads);
int threads();
// Primitives kept for reuse, and the most ever kept at once.
size_t cachedPrimitives();
std::string describe();

}  // namespace tfleet
