#include "kernels.h"

#include <omp.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include <algorithm>
#include <initializer_list>
#include <cmath>
#include <cstdio>
#include <vector>
#include <memory>
#include <unordered_map>

#include <dnnl.hpp>

namespace tfleet {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& cpu() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& queue() {
  static dnnl::stream stream(cpu());
  return stream;
}

// A primitive and the memory objects it runs on, built once per shape: creating
// them costs more than running a small kernel. Memory objects are re-pointed at
// each call's tensors with set_data_handle.
struct Entry {
  virtual ~Entry() = default;
};

// Steps of a training run repeat a few dozen shapes; this bound only stops a
// caller that sends ever new shapes from growing the cache without end.
constexpr size_t kMaxEntries = 512;
std::unordered_map<std::string, std::unique_ptr<Entry>> cache;

template <typename T, typename Make>
T& cached(const std::string& key, Make make) {
  auto found = cache.find(key);
  if (found != cache.end()) return static_cast<T&>(*found->second);
  if (cache.size() >= kMaxEntries) cache.clear();
  auto entry = make();
  T& ref = *entry;
  cache.emplace(key, std::move(entry));
  return ref;
}

std::string keyOf(const char* kind, const double* p, size_t from, size_t count) {
  std::string key(kind);
  char part[32];
  for (size_t i = from; i < count; i++) {
    std::snprintf(part, sizeof part, ",%.17g", p[i]);
    key += part;
  }
  return key;
}

int64_t whole(const double* p, size_t i, const char* name, int64_t min) {
  const double v = p[i];
  if (!(v >= static_cast<double>(min)) || v > 9.0e15 || v != static_cast<double>(static_cast<int64_t>(v))) {
    throw BadParams{std::string("parameter '") + name + "' is not a whole number >= " + std::to_string(min)};
  }
  return static_cast<int64_t>(v);
}

// The address of a float32 tensor at byte `offset` whose element count is
// the product of `dims`, after checking that it lies inside the buffer (the
// product is checked for overflow: a bound, not a trust, on the caller).
float* tensorAt(uint8_t* heap, size_t heapBytes, double offset, std::initializer_list<int64_t> dims, const char* name) {
  if (!(offset >= 0) || offset != static_cast<double>(static_cast<uint64_t>(offset)) || static_cast<uint64_t>(offset) % 4 != 0) {
    throw BadParams{std::string("tensor '") + name + "' has no valid offset"};
  }
  uint64_t bytes = 4;
  for (const int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) throw BadParams{std::string("tensor '") + name + "' is too large"};
  }
  const uint64_t start = static_cast<uint64_t>(offset);
  if (start > heapBytes || bytes > heapBytes - start) throw BadParams{std::string("tensor '") + name + "' lies outside the buffer"};
  return reinterpret_cast<float*>(heap + start);
}

// tfjs's fused activations that oneDNN can apply as a post-op.
enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kElu = 3, kLeakyRelu = 4, kSigmoid = 5 };

dnnl::primitive_attr activationAttr(int64_t activation, float alpha) {
  dnnl::post_ops ops;
  switch (activation) {
    case kLinear: break;
    case kRelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
    case kRelu6: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f); break;
    case kElu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f); break;
    case kLeakyRelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f); break;
    case kSigmoid: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
    default: throw BadParams{"unknown activation " + std::to_string(activation)};
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return attr;
}

// ---------------------------------------------------------------- convolution

struct ConvShape {
  int64_t mode, N, H, W, C, FH, FW, O, OH, OW, sh, sw, dh, dw, pt, pl, pb, pr, activation;
  float alpha;
  bool bias;

  explicit ConvShape(const double* p) {
    mode = whole(p, 0, "mode", 0);
    bias = p[4] >= 0;
    N = whole(p, 5, "N", 1); H = whole(p, 6, "H", 1); W = whole(p, 7, "W", 1); C = whole(p, 8, "C", 1);
    FH = whole(p, 9, "FH", 1); FW = whole(p, 10, "FW", 1); O = whole(p, 11, "O", 1);
    OH = whole(p, 12, "OH", 1); OW = whole(p, 13, "OW", 1);
    sh = whole(p, 14, "strideHeight", 1); sw = whole(p, 15, "strideWidth", 1);
    dh = whole(p, 16, "dilationHeight", 1); dw = whole(p, 17, "dilationWidth", 1);
    pt = whole(p, 18, "padTop", 0); pl = whole(p, 19, "padLeft", 0); pb = whole(p, 20, "padBottom", 0); pr = whole(p, 21, "padRight", 0);
    activation = whole(p, 22, "activation", 0);
    alpha = static_cast<float>(p[23]);
    if (mode > 2) throw BadParams{"unknown convolution mode"};
    if (mode != 0 && (bias || activation != kLinear)) throw BadParams{"bias and activation apply to the forward convolution only"};
  }

  memory::desc src() const { return {{N, C, H, W}, dt::f32, tag::nhwc}; }
  memory::desc dst() const { return {{N, O, OH, OW}, dt::f32, tag::nhwc}; }
  // tfjs filters are [FH, FW, C, O]: oneDNN's hwio.
  memory::desc userWeights() const { return {{O, C, FH, FW}, dt::f32, tag::hwio}; }
  memory::desc anyWeights() const { return {{O, C, FH, FW}, dt::f32, tag::any}; }

  dnnl::convolution_forward::desc forwardDesc() const {
    const memory::dims strides{sh, sw}, dilation{dh - 1, dw - 1}, padL{pt, pl}, padR{pb, pr};
    if (bias) {
      const memory::desc b({O}, dt::f32, tag::x);
      return {dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src(), anyWeights(), b, dst(), strides, dilation, padL, padR};
    }
    return {dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src(), anyWeights(), dst(), strides, dilation, padL, padR};
  }
};

// Weights reach oneDNN in the layout its kernel chose (a reorder per call: they
// change every step) or, for the filter gradient, leave it through one.
struct ConvEntry : Entry {
  dnnl::primitive conv;
  memory src, dst, userWeights, weights, bias;
  dnnl::reorder reorder;
  bool reorders = false;
};

std::unique_ptr<ConvEntry> makeConv(const ConvShape& s) {
  auto entry = std::make_unique<ConvEntry>();
  auto& e = *entry;
  auto& engine = cpu();
  const auto fwd = dnnl::convolution_forward::primitive_desc(s.forwardDesc(), activationAttr(s.activation, s.alpha), engine);
  e.src = memory(s.src(), engine, DNNL_MEMORY_NONE);
  e.dst = memory(s.dst(), engine, DNNL_MEMORY_NONE);
  e.userWeights = memory(s.userWeights(), engine, DNNL_MEMORY_NONE);
  memory::desc chosen;
  if (s.mode == 0) {
    e.conv = dnnl::convolution_forward(fwd);
    chosen = fwd.weights_desc();
    if (s.bias) e.bias = memory(fwd.bias_desc(), engine, DNNL_MEMORY_NONE);
  } else {
    const memory::dims strides{s.sh, s.sw}, dilation{s.dh - 1, s.dw - 1}, padL{s.pt, s.pl}, padR{s.pb, s.pr};
    if (s.mode == 1) {
      const dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, s.src(), s.anyWeights(), s.dst(), strides, dilation, padL, padR);
      const dnnl::convolution_backward_data::primitive_desc pd(d, engine, fwd);
      e.conv = dnnl::convolution_backward_data(pd);
      chosen = pd.weights_desc();
    } else {
      const dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, s.src(), s.anyWeights(), s.dst(), strides, dilation, padL, padR);
      const dnnl::convolution_backward_weights::primitive_desc pd(d, engine, fwd);
      e.conv = dnnl::convolution_backward_weights(pd);
      chosen = pd.diff_weights_desc();
    }
  }
  if (chosen == s.userWeights()) {
    e.weights = e.userWeights;
  } else {
    e.reorders = true;
    e.weights = memory(chosen, engine);
    e.reorder = s.mode == 2 ? dnnl::reorder(e.weights, e.userWeights) : dnnl::reorder(e.userWeights, e.weights);
  }
  return entry;
}

}  // namespace

void conv2d(uint8_t* heap, size_t heapBytes, const double* p, size_t count) {
  if (count != 24) throw BadParams{"convolution takes 24 parameters"};
  const ConvShape s(p);
  float* x = tensorAt(heap, heapBytes, p[1], {s.N, s.H, s.W, s.C}, "x");
  float* w = tensorAt(heap, heapBytes, p[2], {s.FH, s.FW, s.C, s.O}, "filter");
  float* y = tensorAt(heap, heapBytes, p[3], {s.N, s.OH, s.OW, s.O}, "y");
  float* b = s.bias ? tensorAt(heap, heapBytes, p[4], {s.O}, "bias") : nullptr;
  auto& e = cached<ConvEntry>(keyOf("conv", p, 0, 1) + (s.bias ? "b" : "") + keyOf("", p, 5, 24),
                              [&] { return makeConv(s); });
  auto& q = queue();
  e.src.set_data_handle(x);
  e.dst.set_data_handle(y);
  e.userWeights.set_data_handle(w);
  if (s.mode == 0) {
    if (e.reorders) e.reorder.execute(q, e.userWeights, e.weights);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.src}, {DNNL_ARG_WEIGHTS, e.weights}, {DNNL_ARG_DST, e.dst}};
    if (s.bias) {
      e.bias.set_data_handle(b);
      args.emplace(DNNL_ARG_BIAS, e.bias);
    }
    e.conv.execute(q, args);
  } else if (s.mode == 1) {
    if (e.reorders) e.reorder.execute(q, e.userWeights, e.weights);
    e.conv.execute(q, {{DNNL_ARG_DIFF_DST, e.dst}, {DNNL_ARG_WEIGHTS, e.weights}, {DNNL_ARG_DIFF_SRC, e.src}});
  } else {
    e.conv.execute(q, {{DNNL_ARG_SRC, e.src}, {DNNL_ARG_DIFF_DST, e.dst}, {DNNL_ARG_DIFF_WEIGHTS, e.weights}});
    if (e.reorders) e.reorder.execute(q, e.weights, e.userWeights);
  }
  q.wait();
}

namespace {

// --------------------------------------------------------------------- matmul

struct MatMulEntry : Entry {
  dnnl::matmul product;
  memory a, b, c, bias;
};

}  // namespace

void matmul(uint8_t* heap, size_t heapBytes, const double* p, size_t count) {
  if (count != 13) throw BadParams{"matmul takes 13 parameters"};
  const int64_t batchA = whole(p, 4, "batchA", 1), batchB = whole(p, 5, "batchB", 1);
  const int64_t M = whole(p, 6, "M", 1), K = whole(p, 7, "K", 1), N = whole(p, 8, "N", 1);
  const bool transA = p[9] != 0, transB = p[10] != 0, hasBias = p[3] >= 0;
  const int64_t activation = whole(p, 11, "activation", 0);
  if (batchA != batchB && batchA != 1 && batchB != 1) throw BadParams{"batch sizes differ and neither is 1"};
  const int64_t batch = batchA > batchB ? batchA : batchB;
  float* a = tensorAt(heap, heapBytes, p[0], {batchA, M, K}, "a");
  float* b = tensorAt(heap, heapBytes, p[1], {batchB, K, N}, "b");
  float* c = tensorAt(heap, heapBytes, p[2], {batch, M, N}, "c");
  float* bias = hasBias ? tensorAt(heap, heapBytes, p[3], {N}, "bias") : nullptr;
  auto& e = cached<MatMulEntry>(keyOf("matmul", p, 4, 13) + (hasBias ? "b" : ""), [&] {
    auto entry = std::make_unique<MatMulEntry>();
    auto& engine = cpu();
    // A transposed operand is the same bytes read with swapped strides.
    const memory::desc ad({batchA, M, K}, dt::f32, transA ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1});
    const memory::desc bd({batchB, K, N}, dt::f32, transB ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1});
    const memory::desc cd({batch, M, N}, dt::f32, memory::dims{M * N, N, 1});
    const auto attr = activationAttr(activation, static_cast<float>(p[12]));
    dnnl::matmul::primitive_desc pd;
    if (hasBias) {
      const memory::desc biasDesc({1, 1, N}, dt::f32, memory::dims{N, N, 1});
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, biasDesc, cd), attr, engine);
      entry->bias = memory(biasDesc, engine, DNNL_MEMORY_NONE);
    } else {
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), attr, engine);
    }
    entry->product = dnnl::matmul(pd);
    entry->a = memory(ad, engine, DNNL_MEMORY_NONE);
    entry->b = memory(bd, engine, DNNL_MEMORY_NONE);
    entry->c = memory(cd, engine, DNNL_MEMORY_NONE);
    return entry;
  });
  auto& q = queue();
  e.a.set_data_handle(a);
  e.b.set_data_handle(b);
  e.c.set_data_handle(c);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.a}, {DNNL_ARG_WEIGHTS, e.b}, {DNNL_ARG_DST, e.c}};
  if (hasBias) {
    e.bias.set_data_handle(bias);
    args.emplace(DNNL_ARG_BIAS, e.bias);
  }
  e.product.execute(q, args);
  q.wait();
}

namespace {

// -------------------------------------------------------------------- pooling

enum PoolMode { kMaxForward = 0, kAvgForward = 1, kMaxBackward = 2, kAvgBackward = 3, kMaxReluBackward = 4 };

// A ReLU's gradient at one value: dy · step(y), as tfjs's Step then Multiply
// compute it (y > 0 exactly where the ReLU's input is; NaN stays NaN; dy · 0
// keeps the sign and NaN of dy).
// (Both arms are computed, as selects: GCC leaves a loop with nested conditionals unvectorized.)
inline float reluGradient(float dy, float y) {
  const float off = y == y ? dy * 0.f : y;
  return y > 0.f ? dy : off;
}

// reluGradient over rows of `inner` values (dx may be dy: each value is read
// before it is written) and, unless db is null, the bias gradient: the rows'
// sum, in double.
void reluGradRows(const float* dy, const float* y, float* dx, float* db, int64_t outer, int64_t inner);

struct PoolEntry : Entry {
  dnnl::primitive forward, backward;
  memory src, dst, diffDst, diffSrc;
};

struct PoolGeometry {
  int64_t N, H, W, C, OH, OW, FH, FW, sh, sw, pt, pl;
};

// The max pool's gradient from its input and output, as tfjs hands them:
// each window's dy goes to the first position (row-major) holding the
// window's maximum, as on tfjs's cpu backend. oneDNN's backward pass needs a
// record of the maxima that only its own forward pass writes; running that
// again cost more than this one comparison per input value.
void maxPoolGradient(const float* x, const float* y, const float* dy, float* dx, const PoolGeometry& g) {
  const int64_t C = g.C;
  // Windows side by side (stride = filter, no padding) each own their
  // positions: dx is written once, not zeroed and then added to (a 2.5×
  // slower pass), and only the rows and columns past the last window (an odd
  // size) are zeroed.
  const bool tiles = g.sh == g.FH && g.sw == g.FW && g.pt == 0 && g.pl == 0 && g.OH * g.FH <= g.H && g.OW * g.FW <= g.W;
  if (!tiles) {
    std::fill(dx, dx + g.N * g.H * g.W * C, 0.f);
  } else if (g.OH * g.FH < g.H || g.OW * g.FW < g.W) {
    for (int64_t n = 0; n < g.N; n++) {
      for (int64_t r = 0; r < g.H; r++) {
        float* row = dx + (n * g.H + r) * g.W * C;
        if (r >= g.OH * g.FH) std::fill(row, row + g.W * C, 0.f);
        else std::fill(row + g.OW * g.FW * C, row + g.W * C, 0.f);
      }
    }
  }
  // By image: windows of one image overlap when the stride is under the filter.
  #pragma omp parallel num_threads(g.N > 1 ? omp_get_max_threads() : 1)
  {
    // Per channel, the dy not yet routed: its first position holding the maximum takes it.
    std::vector<float> pending(static_cast<size_t>(C));
    #pragma omp for
    for (int64_t n = 0; n < g.N; n++) {
      for (int64_t oy = 0; oy < g.OH; oy++) {
        const int64_t r0 = std::max<int64_t>(0, oy * g.sh - g.pt), r1 = std::min<int64_t>(g.H, oy * g.sh - g.pt + g.FH);
        for (int64_t ox = 0; ox < g.OW; ox++) {
          const int64_t c0 = std::max<int64_t>(0, ox * g.sw - g.pl), c1 = std::min<int64_t>(g.W, ox * g.sw - g.pl + g.FW);
          const float* __restrict yo = y + ((n * g.OH + oy) * g.OW + ox) * C;
          float* __restrict left = pending.data();
          std::copy(dy + ((n * g.OH + oy) * g.OW + ox) * C, dy + ((n * g.OH + oy) * g.OW + ox + 1) * C, left);
          for (int64_t r = r0; r < r1; r++) {
            for (int64_t c = c0; c < c1; c++) {
              const float* __restrict xi = x + ((n * g.H + r) * g.W + c) * C;
              float* __restrict dxi = dx + ((n * g.H + r) * g.W + c) * C;
              // Selects, not branches: the loops vectorize over channels (data-dependent branches mispredict).
              if (tiles) {
                #pragma omp simd
                for (int64_t ch = 0; ch < C; ch++) {
                  const bool hit = xi[ch] == yo[ch];
                  dxi[ch] = hit ? left[ch] : 0.f;
                  left[ch] = hit ? 0.f : left[ch];
                }
                continue;
              }
              #pragma omp simd
              for (int64_t ch = 0; ch < C; ch++) {
                const bool hit = xi[ch] == yo[ch];
                dxi[ch] += hit ? left[ch] : 0.f;
                left[ch] = hit ? 0.f : left[ch];
              }
            }
          }
        }
      }
    }
  }
}

// The max pool's gradient, then the gradient of the ReLU whose output x the
// pool read, and the bias gradient (the result summed over all but the
// channel axis). The pool routes each window's dy to the window's first
// maximum; the ReLU keeps what lands on a positive value. Windows side by
// side take one pass over the layer's largest tensor, where the pool's
// gradient and the ReLU's make three; overlapping windows add into dx, so
// the ReLU's pass follows the pool's.
void maxPoolReluGradient(const float* x, const float* y, const float* dy, float* dx, float* db, const PoolGeometry& g) {
  const bool tiles = g.sh == g.FH && g.sw == g.FW && g.pt == 0 && g.pl == 0 && g.OH * g.FH <= g.H && g.OW * g.FW <= g.W;
  if (!tiles) {
    maxPoolGradient(x, y, dy, dx, g);
    reluGradRows(dx, x, dx, db, g.N * g.H * g.W, g.C);
    return;
  }
  const int64_t C = g.C;
  std::vector<double> total(static_cast<size_t>(C), 0.0);
  #pragma omp parallel num_threads(g.N > 1 ? omp_get_max_threads() : 1)
  {
    std::vector<float> pending(static_cast<size_t>(C));
    std::vector<double> band(static_cast<size_t>(C), 0.0);
    double* __restrict acc = band.data();
    // The values written at one position, into the bias gradient (a loop of its own: mixed with the
    // float selects, the double sums kept GCC from vectorizing either).
    const auto sum = [&](const float* __restrict dxi) {
      #pragma omp simd
      for (int64_t ch = 0; ch < C; ch++) acc[ch] += dxi[ch];
    };
    // A position no window covers: the pool's gradient is 0 there.
    const auto edge = [&](const float* __restrict xi, float* __restrict dxi) {
      #pragma omp simd
      for (int64_t ch = 0; ch < C; ch++) dxi[ch] = reluGradient(0.f, xi[ch]);
      sum(dxi);
    };
    // A position of a window: the dy not yet routed goes to it where it holds the maximum.
    const auto inWindow = [&](const float* __restrict xi, float* __restrict dxi, const float* __restrict yo, float* __restrict left) {
      #pragma omp simd
      for (int64_t ch = 0; ch < C; ch++) {
        const bool hit = xi[ch] == yo[ch];
        const float unrouted = left[ch];
        dxi[ch] = reluGradient(hit ? unrouted : 0.f, xi[ch]);
        left[ch] = hit ? 0.f : unrouted;
      }
      sum(dxi);
    };
    #pragma omp for nowait
    for (int64_t n = 0; n < g.N; n++) {
      for (int64_t r = 0; r < g.H; r++) {
        // Positions past the last window (an odd size): no dy reaches them.
        for (int64_t c = r >= g.OH * g.FH ? 0 : g.OW * g.FW; c < g.W; c++) {
          const int64_t at = ((n * g.H + r) * g.W + c) * C;
          edge(x + at, dx + at);
        }
      }
      for (int64_t oy = 0; oy < g.OH; oy++) {
        for (int64_t ox = 0; ox < g.OW; ox++) {
          const int64_t o = ((n * g.OH + oy) * g.OW + ox) * C;
          float* left = pending.data();
          std::copy(dy + o, dy + o + C, left);
          for (int64_t r = oy * g.FH; r < (oy + 1) * g.FH; r++) {
            for (int64_t c = ox * g.FW; c < (ox + 1) * g.FW; c++) {
              const int64_t at = ((n * g.H + r) * g.W + c) * C;
              inWindow(x + at, dx + at, y + o, left);
            }
          }
        }
      }
    }
    #pragma omp critical
    for (int64_t ch = 0; ch < C; ch++) total[ch] += acc[ch];
  }
  for (int64_t ch = 0; ch < C; ch++) db[ch] = static_cast<float>(total[ch]);
}

}  // namespace

void pool2d(uint8_t* heap, size_t heapBytes, const double* p, size_t count) {
  if (count != 20) throw BadParams{"pooling takes 20 parameters"};
  const int64_t mode = whole(p, 0, "mode", 0);
  if (mode > 4) throw BadParams{"unknown pooling mode"};
  const int64_t N = whole(p, 4, "N", 1), H = whole(p, 5, "H", 1), W = whole(p, 6, "W", 1), C = whole(p, 7, "C", 1);
  const int64_t OH = whole(p, 8, "OH", 1), OW = whole(p, 9, "OW", 1), FH = whole(p, 10, "FH", 1), FW = whole(p, 11, "FW", 1);
  const int64_t sh = whole(p, 12, "strideHeight", 1), sw = whole(p, 13, "strideWidth", 1);
  const int64_t pt = whole(p, 14, "padTop", 0), pl = whole(p, 15, "padLeft", 0), pb = whole(p, 16, "padBottom", 0), pr = whole(p, 17, "padRight", 0);
  const bool isMax = mode == kMaxForward || mode == kMaxBackward;
  const bool backward = mode >= kMaxBackward;
  if (mode == kMaxReluBackward) {
    maxPoolReluGradient(tensorAt(heap, heapBytes, p[1], {N, H, W, C}, "x"), tensorAt(heap, heapBytes, p[18], {N, OH, OW, C}, "y"),
                        tensorAt(heap, heapBytes, p[2], {N, OH, OW, C}, "dy"), tensorAt(heap, heapBytes, p[3], {N, H, W, C}, "dx"),
                        tensorAt(heap, heapBytes, p[19], {C}, "db"), {N, H, W, C, OH, OW, FH, FW, sh, sw, pt, pl});
    return;
  }
  if (mode == kMaxBackward) {
    maxPoolGradient(tensorAt(heap, heapBytes, p[1], {N, H, W, C}, "x"), tensorAt(heap, heapBytes, p[18], {N, OH, OW, C}, "y"),
                    tensorAt(heap, heapBytes, p[2], {N, OH, OW, C}, "dy"), tensorAt(heap, heapBytes, p[3], {N, H, W, C}, "dx"),
                    {N, H, W, C, OH, OW, FH, FW, sh, sw, pt, pl});
    return;
  }
  auto& e = cached<PoolEntry>(keyOf("pool", p, 0, 1) + keyOf("", p, 4, 18), [&] {
    auto entry = std::make_unique<PoolEntry>();
    auto& engine = cpu();
    const memory::desc src({N, C, H, W}, dt::f32, tag::nhwc), dst({N, C, OH, OW}, dt::f32, tag::nhwc);
    const auto alg = isMax ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_exclude_padding;
    const memory::dims strides{sh, sw}, kernel{FH, FW}, padL{pt, pl}, padR{pb, pr};
    const auto prop = backward ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    const dnnl::pooling_forward::primitive_desc fwd(dnnl::pooling_forward::desc(prop, alg, src, dst, strides, kernel, padL, padR), engine);
    entry->src = memory(src, engine, DNNL_MEMORY_NONE);
    entry->dst = memory(dst, engine, DNNL_MEMORY_NONE);
    if (!backward) {
      entry->forward = dnnl::pooling_forward(fwd);
      return entry;
    }
    const dnnl::pooling_backward::primitive_desc bwd(dnnl::pooling_backward::desc(alg, src, dst, strides, kernel, padL, padR), engine, fwd);
    entry->backward = dnnl::pooling_backward(bwd);
    entry->diffDst = memory(dst, engine, DNNL_MEMORY_NONE);
    entry->diffSrc = memory(src, engine, DNNL_MEMORY_NONE);
    return entry;
  });
  auto& q = queue();
  if (!backward) {
    e.src.set_data_handle(tensorAt(heap, heapBytes, p[1], {N, H, W, C}, "x"));
    e.dst.set_data_handle(tensorAt(heap, heapBytes, p[2], {N, OH, OW, C}, "y"));
    e.forward.execute(q, {{DNNL_ARG_SRC, e.src}, {DNNL_ARG_DST, e.dst}});
  } else {
    e.diffDst.set_data_handle(tensorAt(heap, heapBytes, p[2], {N, OH, OW, C}, "dy"));
    e.diffSrc.set_data_handle(tensorAt(heap, heapBytes, p[3], {N, H, W, C}, "dx"));
    e.backward.execute(q, {{DNNL_ARG_DIFF_DST, e.diffDst}, {DNNL_ARG_DIFF_SRC, e.diffSrc}});
  }
  q.wait();
}

namespace {

// ---------------------------------------------------------- element-wise ops

// Element-wise ops are memory-bound: one pass over megabytes of activations.
// Threads pay off past this many elements; below it, their start-up costs more.
constexpr int64_t kParallelElements = 1 << 15;

enum ElementOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kReluOp = 10, kStepOp = 11, kSquare = 12, kSqrt = 13 };

// body(i) for i in [0, n): vectorized, and on the worker's threads when n is
// large. (An OpenMP `if` clause instead ran its serial case unvectorized, 10×
// slower on a 16K-element ReLU.)
template <typename Body>
void forEach(int64_t n, Body body) {
  if (n <= kParallelElements) {
    #pragma omp simd
    for (int64_t i = 0; i < n; i++) body(i);
    return;
  }
  #pragma omp parallel for simd
  for (int64_t i = 0; i < n; i++) body(i);
}

// Subnormal floats (below 1.2e-38) take a microcode assist of about a
// hundred cycles per operation on x86. Adam's moments of a weight whose
// gradient stays zero decay through that range (m by beta1 each step): on the
// MLP a few such weights made the whole update 3× slower, and a loop over
// subnormals alone is 23× slower. Within this scope each thread flushes them
// to zero, as TensorFlow's CPU kernels do.
class FlushSubnormals {
 public:
#if defined(__x86_64__) || defined(__i386__)
  FlushSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040); }  // FTZ | DAZ
  ~FlushSubnormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#endif
};

// forEach with subnormals flushed to zero on every thread that runs a part.
template <typename Body>
void forEachFlushed(int64_t n, Body body) {
  if (n <= kParallelElements) {
    FlushSubnormals flush;
    #pragma omp simd
    for (int64_t i = 0; i < n; i++) body(i);
    return;
  }
  #pragma omp parallel
  {
    FlushSubnormals flush;
    #pragma omp for simd
    for (int64_t i = 0; i < n; i++) body(i);
  }
}

template <typename Op>
void binaryLoop(const float* a, int64_t aSize, const float* b, int64_t bSize, float* out, int64_t n, Op op) {
  if (aSize == n && bSize == n) {
    forEach(n, [=](int64_t i) { out[i] = op(a[i], b[i]); });
  } else if (aSize == n && bSize == 1) {
    const float v = b[0];
    forEach(n, [=](int64_t i) { out[i] = op(a[i], v); });
  } else if (aSize == 1 && bSize == n) {
    const float v = a[0];
    forEach(n, [=](int64_t i) { out[i] = op(v, b[i]); });
  } else {
    // One operand repeats along the other's last axes (a bias): rows of its size.
    const bool aRepeats = aSize != n;
    const int64_t width = aRepeats ? aSize : bSize;
    const int64_t rows = n / width;
    const auto row = [=](int64_t r) {
      const float* x = aRepeats ? a : a + r * width;
      const float* y = aRepeats ? b + r * width : b;
      float* o = out + r * width;
      #pragma omp simd
      for (int64_t j = 0; j < width; j++) o[j] = op(x[j], y[j]);
    };
    if (n <= kParallelElements) {
      for (int64_t r = 0; r < rows; r++) row(r);
    } else {
      #pragma omp parallel for
      for (int64_t r = 0; r < rows; r++) row(r);
    }
  }
}

template <typename Op>
void unaryLoop(const float* x, float* out, int64_t n, Op op) {
  forEach(n, [=](int64_t i) { out[i] = op(x[i]); });
}

}  // namespace

void elementwise(uint8_t* heap, size_t heapBytes, const double* p, size_t count) {
  if (count != 7) throw BadParams{"element-wise ops take 7 parameters"};
  const int64_t op = whole(p, 0, "op", 0), n = whole(p, 4, "n", 1);
  const int64_t aSize = whole(p, 5, "aSize", 1), bSize = whole(p, 6, "bSize", 0);
  float* out = tensorAt(heap, heapBytes, p[3], {n}, "out");
  const float* a = tensorAt(heap, heapBytes, p[1], {aSize}, "a");
  if (op >= kReluOp) {
    if (aSize != n) throw BadParams{"a unary op's input and output differ in size"};
    // NaN stays NaN through each, as in tfjs: comparisons with NaN are false.
    switch (op) {
      case kReluOp: unaryLoop(a, out, n, [](float v) { return v > 0.f ? v : (v == v ? 0.f : v); }); break;
      case kStepOp: unaryLoop(a, out, n, [](float v) { return v > 0.f ? 1.f : (v == v ? 0.f : v); }); break;
      case kSquare: unaryLoop(a, out, n, [](float v) { return v * v; }); break;
      case kSqrt: unaryLoop(a, out, n, [](float v) { return std::sqrt(v); }); break;
      default: throw BadParams{"unknown element-wise op " + std::to_string(op)};
    }
    return;
  }
  // Each operand is the output's size, a scalar, or a run that repeats along it.
  if (bSize < 1 || n % aSize != 0 || n % bSize != 0 || (aSize != n && bSize != n && aSize != 1 && bSize != 1)) {
    throw BadParams{"operand sizes do not broadcast to the output"};
  }
  const float* b = tensorAt(heap, heapBytes, p[2], {bSize}, "b");
  switch (op) {
    case kAdd: binaryLoop(a, aSize, b, bSize, out, n, [](float x, float y) { return x + y; }); break;
    case kSub: binaryLoop(a, aSize, b, bSize, out, n, [](float x, float y) { return x - y; }); break;
    case kMul: binaryLoop(a, aSize, b, bSize, out, n, [](float x, float y) { return x * y; }); break;
    case kDiv: binaryLoop(a, aSize, b, bSize, out, n, [](float x, float y) { return x / y; }); break;
    default: throw BadParams{"unknown element-wise op " + std::to_string(op)};
  }
}

void sumLeading(uint8_t* heap, size_t heapBytes, const double* p, size_t count) {
  if (count != 4) throw BadParams{"sum takes 4 parameters"};
  const int64_t outer = whole(p, 2, "outer", 1), inner = whole(p, 3, "inner", 1);
  const float* x = tensorAt(heap, heapBytes, p[0], {outer, inner}, "x");
  float* out = tensorAt(heap, heapBytes, p[1], {inner}, "out");
  // Columns summed down the rows in double (as tfjs's cpu backend sums in
  // JavaScript numbers); each thread takes a band of rows, then the bands add up.
  std::vector<double> total(static_cast<size_t>(inner), 0.0);
  const int threads = outer * inner > kParallelElements ? omp_get_max_threads() : 1;
  #pragma omp parallel num_threads(threads)
  {
    std::vector<double> band(static_cast<size_t>(inner), 0.0);
    double* acc = band.data();
    #pragma omp for nowait
    for (int64_t r = 0; r < outer; r++) {
      const float* row = x + r * inner;
      #pragma omp simd
      for (int64_t j = 0; j < inner; j++) acc[j] += row[j];
    }
    #pragma omp critical
    for (int64_t j = 0; j < inner; j++) total[j] += acc[j];
  }
  for (int64_t j = 0; j < inner; j++) out[j] = static_cast<float>(total[j]);
}

void reluGradBias(uint8_t* heap, size_t heapBytes, const double* p, size_t count) {
  if (count != 6) throw BadParams{"the ReLU gradient takes 6 parameters"};
  const int64_t outer = whole(p, 4, "outer", 1), inner = whole(p, 5, "inner", 1);
  // One pass over the activations where tfjs makes three (Step, Multiply, Sum).
  reluGradRows(tensorAt(heap, heapBytes, p[0], {outer, inner}, "dy"), tensorAt(heap, heapBytes, p[1], {outer, inner}, "y"),
               tensorAt(heap, heapBytes, p[2], {outer, inner}, "dx"), p[3] < 0 ? nullptr : tensorAt(heap, heapBytes, p[3], {inner}, "db"), outer, inner);
}

namespace {

void reluGradRows(const float* dy, const float* y, float* dx, float* db, int64_t outer, int64_t inner) {
  // Blocks of rows that fit the L1 cache: the gradient as one flat vectorized
  // loop (a row of a few dozen channels is too short to vectorize well), then
  // the block's rows summed in double, as sumLeading does, while they are
  // still in cache.
  const int64_t blockRows = std::max<int64_t>(1, 4096 / inner);
  const int threads = outer * inner > kParallelElements ? omp_get_max_threads() : 1;
  std::vector<double> total(db ? static_cast<size_t>(inner) : 0, 0.0);
  #pragma omp parallel num_threads(threads)
  {
    std::vector<double> band(db ? static_cast<size_t>(inner) : 0, 0.0);
    double* acc = band.data();
    #pragma omp for nowait
    for (int64_t r0 = 0; r0 < outer; r0 += blockRows) {
      const int64_t base = r0 * inner, m = std::min(blockRows, outer - r0) * inner;
      const float* g = dy + base;
      const float* v = y + base;
      float* o = dx + base;
      #pragma omp simd
      for (int64_t i = 0; i < m; i++) o[i] = reluGradient(g[i], v[i]);
      if (!db) continue;
      for (int64_t i = 0; i < m; i += inner) {
        #pragma omp simd
        for (int64_t j = 0; j < inner; j++) acc[j] += o[i + j];
      }
    }
    if (db) {
      #pragma omp critical
      for (int64_t j = 0; j < inner; j++) total[j] += acc[j];
    }
  }
  if (db) for (int64_t j = 0; j < inner; j++) db[j] = static_cast<float>(total[j]);
}

}  // namespace

void adamFloat(uint8_t* heap, size_t heapBytes, const double* p, size_t count) {
  if (count != 16) throw BadParams{"Adam takes 16 parameters"};
  const int64_t n = whole(p, 9, "n", 1);
  const float* value = tensorAt(heap, heapBytes, p[0], {n}, "value");
  const float* m = tensorAt(heap, heapBytes, p[1], {n}, "m");
  const float* v = tensorAt(heap, heapBytes, p[2], {n}, "v");
  const float* g = tensorAt(heap, heapBytes, p[3], {n}, "gradient");
  const float c1 = *tensorAt(heap, heapBytes, p[4], {1}, "c1");
  const float c2 = *tensorAt(heap, heapBytes, p[5], {1}, "c2");
  float* outValue = tensorAt(heap, heapBytes, p[6], {n}, "new value");
  float* outM = tensorAt(heap, heapBytes, p[7], {n}, "new m");
  float* outV = tensorAt(heap, heapBytes, p[8], {n}, "new v");
  // The constants as tfjs makes them: float32 scalars of JavaScript numbers.
  const float b1 = static_cast<float>(p[10]), b2 = static_cast<float>(p[11]);
  const float omb1 = static_cast<float>(p[12]), omb2 = static_cast<float>(p[13]);
  const float eps = static_cast<float>(p[14]), negLr = static_cast<float>(p[15]);
  // tfjs's AdamOptimizer op by op, each rounded to float32 as its kernels do
  // (subnormal inputs and results flushed to zero).
  forEachFlushed(n, [=](int64_t i) {
    const float gi = g[i];
    const float m1 = m[i] * b1 + gi * omb1;
    const float v1 = v[i] * b2 + (gi * gi) * omb2;
    const float mh = m1 / c1;
    const float vh = v1 / c2;
    outValue[i] = (mh / (std::sqrt(vh) + eps)) * negLr + value[i];
    outM[i] = m1;
    outV[i] = v1;
  });
}

void adamStep(float* value, const double* sum, double* m, double* v, size_t n, const AdamParams& a) {
  const double step = a.lr / a.c1;
  const double invSqrtC2 = 1 / std::sqrt(a.c2);
  #pragma omp simd
  for (size_t i = 0; i < n; i++) {
    const double gi = sum[i] * a.scale;
    const double mi = a.beta1 * m[i] + (1 - a.beta1) * gi;
    const double vi = a.beta2 * v[i] + (1 - a.beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    value[i] = static_cast<float>(value[i] - (step * mi) / (std::sqrt(vi) * invSqrtC2 + a.epsilon));
  }
}

void sgdStep(float* value, const double* sum, double* accum, size_t n, double scale, double lr, double momentum) {
  if (!accum) {
    #pragma omp simd
    for (size_t i = 0; i < n; i++) value[i] = static_cast<float>(value[i] - lr * (sum[i] * scale));
    return;
  }
  #pragma omp simd
  for (size_t i = 0; i < n; i++) {
    const double a = momentum * accum[i] + sum[i] * scale;
    accum[i] = a;
    value[i] = static_cast<float>(value[i] - lr * a);
  }
}

double addInto32(double* accum, const float* data, size_t n) {
  double bad = 0;
  #pragma omp simd reduction(+ : bad)
  for (size_t i = 0; i < n; i++) {
    const double x = data[i];
    accum[i] += x;
    bad += x - x;
  }
  return bad;
}

double overwrite32(double* accum, const float* data, size_t n) {
  double bad = 0;
  #pragma omp simd reduction(+ : bad)
  for (size_t i = 0; i < n; i++) {
    const double x = data[i];
    accum[i] = x;
    bad += x - x;
  }
  return bad;
}

void setThreads(int n) { omp_set_num_threads(n); }

int threads() { return omp_get_max_threads(); }

size_t cachedPrimitives() { return cache.size(); }

std::string describe() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) + ", OpenMP";
}

}  // namespace tfleet
