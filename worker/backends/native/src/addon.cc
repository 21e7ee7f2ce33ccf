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
