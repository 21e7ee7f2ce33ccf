// Node-API entry points of tfleet's oneDNN kernels. Each kernel call is
// `fn(buffer: ArrayBuffer, params: Float64Array)`: the buffer is the wasm
// backend's heap, which holds every tensor, so no tensor is copied in or out.
#include <node_api.h>

#include <string>

#include <dnnl.hpp>

#include "kernels.h"

namespace {

using Kernel = void (*)(uint8_t*, size_t, const double*, size_t);

bool failed(napi_env env, napi_status status, const char* what) {
  if (status == napi_ok) return false;
  napi_throw_type_error(env, nullptr, what);
  return true;
}

template <Kernel kernel>
napi_value call(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (failed(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call")) return nullptr;
  if (argc != 2) {
    napi_throw_type_error(env, nullptr, "expected (ArrayBuffer, Float64Array)");
    return nullptr;
  }
  void* heap = nullptr;
  size_t heapBytes = 0;
  if (failed(env, napi_get_arraybuffer_info(env, argv[0], &heap, &heapBytes), "the first argument must be an ArrayBuffer")) return nullptr;
  napi_typedarray_type type;
  size_t count = 0;
  void* data = nullptr;
  if (failed(env, napi_get_typedarray_info(env, argv[1], &type, &count, &data, nullptr, nullptr), "the second argument must be a Float64Array")) return nullptr;
  if (type != napi_float64_array) {
    napi_throw_type_error(env, nullptr, "the second argument must be a Float64Array");
    return nullptr;
  }
  try {
    kernel(static_cast<uint8_t*>(heap), heapBytes, static_cast<const double*>(data), count);
  } catch (const tfleet::BadParams& e) {
    napi_throw_range_error(env, nullptr, e.message.c_str());
  } catch (const dnnl::error& e) {
    napi_throw_error(env, nullptr, (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

// A typed array's elements, checked for its type: nullptr (and a TypeError thrown) otherwise.
template <typename T>
T* elements(napi_env env, napi_value value, napi_typedarray_type want, size_t* length, const char* what) {
  napi_typedarray_type type;
  void* data = nullptr;
  bool is = false;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is || napi_get_typedarray_info(env, value, &type, length, &data, nullptr, nullptr) != napi_ok || type != want) {
    napi_throw_type_error(env, nullptr, what);
    return nullptr;
  }
  return static_cast<T*>(data);
}

// adamStep(value: Float32Array, sum, m, v: Float64Array, [scale, lr, beta1, beta2, epsilon, c1, c2]: Float64Array)
napi_value adamStep(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (failed(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call") || argc != 5) return nullptr;
  size_t n = 0, ns = 0, nm = 0, nv = 0, np = 0;
  float* value = elements<float>(env, argv[0], napi_float32_array, &n, "value must be a Float32Array");
  if (!value) return nullptr;
  const double* sum = elements<double>(env, argv[1], napi_float64_array, &ns, "sum must be a Float64Array");
  if (!sum) return nullptr;
  double* m = elements<double>(env, argv[2], napi_float64_array, &nm, "m must be a Float64Array");
  if (!m) return nullptr;
  double* v = elements<double>(env, argv[3], napi_float64_array, &nv, "v must be a Float64Array");
  if (!v) return nullptr;
  const double* p = elements<double>(env, argv[4], napi_float64_array, &np, "params must be a Float64Array");
  if (!p) return nullptr;
  if (ns != n || nm != n || nv != n || np != 7) {
    napi_throw_range_error(env, nullptr, "adamStep: arrays of different lengths, or params not of 7 values");
    return nullptr;
  }
  tfleet::adamStep(value, sum, m, v, n, {p[0], p[1], p[2], p[3], p[4], p[5], p[6]});
  return nullptr;
}

// sgdStep(value: Float32Array, sum: Float64Array, accum: Float64Array | null, [scale, lr, momentum]: Float64Array)
napi_value sgdStep(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (failed(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call") || argc != 4) return nullptr;
  size_t n = 0, ns = 0, na = 0, np = 0;
  float* value = elements<float>(env, argv[0], napi_float32_array, &n, "value must be a Float32Array");
  if (!value) return nullptr;
  const double* sum = elements<double>(env, argv[1], napi_float64_array, &ns, "sum must be a Float64Array");
  if (!sum) return nullptr;
  napi_valuetype accumType;
  napi_typeof(env, argv[2], &accumType);
  double* accum = nullptr;
  if (accumType != napi_null) {
    accum = elements<double>(env, argv[2], napi_float64_array, &na, "accum must be a Float64Array or null");
    if (!accum) return nullptr;
  }
  const double* p = elements<double>(env, argv[3], napi_float64_array, &np, "params must be a Float64Array");
  if (!p) return nullptr;
  if (ns != n || (accum && na != n) || np != 3) {
    napi_throw_range_error(env, nullptr, "sgdStep: arrays of different lengths, or params not of 3 values");
    return nullptr;
  }
  tfleet::sgdStep(value, sum, accum, n, p[0], p[1], p[2]);
  return nullptr;
}

// addInto32 / overwrite32(accum: Float64Array, data: Float32Array) -> the sum of (x - x) over data
template <double (*loop)(double*, const float*, size_t)>
napi_value pushLoop32(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (failed(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call") || argc != 2) return nullptr;
  size_t na = 0, nd = 0;
  double* accum = elements<double>(env, argv[0], napi_float64_array, &na, "accum must be a Float64Array");
  if (!accum) return nullptr;
  const float* data = elements<float>(env, argv[1], napi_float32_array, &nd, "data must be a Float32Array");
  if (!data) return nullptr;
  if (na != nd) {
    napi_throw_range_error(env, nullptr, "addInto32, overwrite32: arrays of different lengths");
    return nullptr;
  }
  napi_value out;
  napi_create_double(env, loop(accum, data, na), &out);
  return out;
}

napi_value setThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  int32_t n = 0;
  if (failed(env, napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr), "bad call")) return nullptr;
  if (argc != 1 || napi_get_value_int32(env, arg, &n) != napi_ok || n < 1 || n > 1024) {
    napi_throw_range_error(env, nullptr, "threads must be a whole number from 1 to 1024");
    return nullptr;
  }
  tfleet::setThreads(n);
  return nullptr;
}

napi_value threads(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_int32(env, tfleet::threads(), &out);
  return out;
}

napi_value cachedPrimitives(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_uint32(env, static_cast<uint32_t>(tfleet::cachedPrimitives()), &out);
  return out;
}

napi_value describe(napi_env env, napi_callback_info) {
  const std::string text = tfleet::describe();
  napi_value out;
  napi_create_string_utf8(env, text.c_str(), text.size(), &out);
  return out;
}

napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor methods[] = {
      {"conv2d", nullptr, call<tfleet::conv2d>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matmul", nullptr, call<tfleet::matmul>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pool2d", nullptr, call<tfleet::pool2d>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"elementwise", nullptr, call<tfleet::elementwise>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumLeading", nullptr, call<tfleet::sumLeading>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluGradBias", nullptr, call<tfleet::reluGradBias>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamFloat", nullptr, call<tfleet::adamFloat>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamStep", nullptr, adamStep, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addInto32", nullptr, pushLoop32<tfleet::addInto32>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"overwrite32", nullptr, pushLoop32<tfleet::overwrite32>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdStep", nullptr, sgdStep, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, setThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"cachedPrimitives", nullptr, cachedPrimitives, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"describe", nullptr, describe, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
