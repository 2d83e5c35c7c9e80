// Ed25519 signing and verification over libsodium, for src/tlog/ed25519.ts.
//
// Why an addon: a witness makes one Ed25519 verification and one signature per request, and
// libsodium does each in about half the CPU time of node:crypto (OpenSSL 3.0) on the machines
// we run on. The secret key lives in libsodium's guarded memory, owned by an external value;
// JavaScript never holds it. The asynchronous forms run on libuv's thread pool, as node:crypto's
// do when given a callback.
#define NAPI_VERSION 8
#include <node_api.h>
#include <sodium.h>
#include <string.h>

#define CHECK(env, call)                                                          \
  do {                                                                            \
    if ((call) != napi_ok) {                                                      \
      napi_throw_error((env), "ED25519_NAPI", "ed25519 addon: " #call " failed"); \
      return NULL;                                                                \
    }                                                                             \
  } while (0)

typedef struct {
  unsigned char* sk; /* crypto_sign_SECRETKEYBYTES, sodium_malloc'd */
} signer_t;

static void signer_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  signer_t* s = data;
  sodium_free(s->sk);
  free(s);
}

/* The bytes of a Uint8Array/Buffer argument; NULL (with a TypeError thrown) if it is not one
   or its length differs from `want` (when want >= 0). */
static unsigned char* bytes_arg(napi_env env, napi_value v, const char* what, ssize_t want, size_t* len) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) {
    napi_throw_type_error(env, "ED25519_ARG", what);
    return NULL;
  }
  napi_typedarray_type type;
  void* data = NULL;
  size_t n = 0;
  if (napi_get_typedarray_info(env, v, &type, &n, &data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      (want >= 0 && n != (size_t)want)) {
    napi_throw_type_error(env, "ED25519_ARG", what);
    return NULL;
  }
  *len = n;
  /* A zero-length view may have no backing store; hand libsodium a valid pointer. */
  return data != NULL ? data : (unsigned char*)"";
}

static napi_value make_signer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t n;
  unsigned char* seed = bytes_arg(env, argv[0], "seed must be a 32-byte Uint8Array", crypto_sign_SEEDBYTES, &n);
  if (seed == NULL) return NULL;
  signer_t* s = malloc(sizeof *s);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  if (s == NULL || (s->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL) {
    free(s);
    napi_throw_error(env, "ED25519_NOMEM", "out of memory for a signing key");
    return NULL;
  }
  crypto_sign_seed_keypair(pk, s->sk, seed);
  napi_value ext;
  if (napi_create_external(env, s, signer_finalize, NULL, &ext) != napi_ok) {
    signer_finalize(env, s, NULL);
    napi_throw_error(env, "ED25519_NAPI", "ed25519 addon: napi_create_external failed");
    return NULL;
  }
  return ext;
}

static signer_t* signer_arg(napi_env env, napi_value v) {
  napi_valuetype t;
  void* data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &data) != napi_ok) {
    napi_throw_type_error(env, "ED25519_ARG", "not a signer made by makeSigner");
    return NULL;
  }
  return data;
}

/* publicKey(signer) → Buffer(32): the public key of the signer's seed, kept in its secret key. */
static napi_value public_key(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  signer_t* s = signer_arg(env, argv[0]);
  if (s == NULL) return NULL;
  napi_value buf;
  void* out;
  CHECK(env, napi_create_buffer(env, crypto_sign_PUBLICKEYBYTES, &out, &buf));
  crypto_sign_ed25519_sk_to_pk(out, s->sk);
  return buf;
}

/* One job for the thread pool: a signature to make or to check. Inputs are copied, so the
   caller may reuse its buffers at once. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref signer_ref; /* keeps the signer alive while the job runs */
  signer_t* signer;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sig[crypto_sign_BYTES];
  unsigned char* msg;
  size_t msg_len;
  int ok;
} job_t;

static void job_free(napi_env env, job_t* j) {
  if (j->signer_ref != NULL) napi_delete_reference(env, j->signer_ref);
  if (j->work != NULL) napi_delete_async_work(env, j->work);
  free(j->msg);
  free(j);
}

static job_t* job_new(napi_env env, const unsigned char* msg, size_t len) {
  job_t* j = calloc(1, sizeof *j);
  if (j != NULL) j->msg = malloc(len > 0 ? len : 1);
  if (j == NULL || j->msg == NULL) {
    if (j != NULL) free(j);
    napi_throw_error(env, "ED25519_NOMEM", "out of memory for a signature job");
    return NULL;
  }
  memcpy(j->msg, msg, len);
  j->msg_len = len;
  return j;
}

static void sign_execute(napi_env env, void* data) {
  (void)env;
  job_t* j = data;
  j->ok = crypto_sign_detached(j->sig, NULL, j->msg, j->msg_len, j->signer->sk) == 0;
}

static void verify_execute(napi_env env, void* data) {
  (void)env;
  job_t* j = data;
  j->ok = crypto_sign_verify_detached(j->sig, j->msg, j->msg_len, j->pk) == 0;
}

static napi_value signature_value(napi_env env, const unsigned char* sig) {
  napi_value buf;
  void* out;
  if (napi_create_buffer(env, crypto_sign_BYTES, &out, &buf) != napi_ok) return NULL;
  memcpy(out, sig, crypto_sign_BYTES);
  return buf;
}

static void sign_complete(napi_env env, napi_status status, void* data) {
  job_t* j = data;
  napi_value v = NULL, err;
  if (status == napi_ok && j->ok) v = signature_value(env, j->sig);
  if (v != NULL) {
    napi_resolve_deferred(env, j->deferred, v);
  } else {
    napi_value msg;
    napi_create_string_utf8(env, "Ed25519 signing failed", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
  }
  job_free(env, j);
}

static void verify_complete(napi_env env, napi_status status, void* data) {
  job_t* j = data;
  napi_value v;
  napi_get_boolean(env, status == napi_ok && j->ok, &v);
  napi_resolve_deferred(env, j->deferred, v);
  job_free(env, j);
}

static napi_value queue(napi_env env, job_t* j, napi_async_execute_callback exec, napi_async_complete_callback done) {
  napi_value promise, name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "kubetrail:ed25519", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, exec, done, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    job_free(env, j);
    napi_throw_error(env, "ED25519_NAPI", "ed25519 addon: could not queue a job");
    return NULL;
  }
  return promise;
}

/* The `required` arguments of a call (argv has room for one more: the optional `async` flag,
   whose value goes to *async). False, with a TypeError naming `usage` thrown, when too few. */
static bool call_args(napi_env env, napi_callback_info info, size_t required, napi_value* argv, bool* async,
                      const char* usage) {
  size_t argc = required + 1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < required) {
    napi_throw_type_error(env, "ED25519_ARG", usage);
    return false;
  }
  *async = false;
  if (argc > required) napi_get_value_bool(env, argv[required], async);
  return true;
}

/* sign(signer, msg[, async]) → Buffer(64), or a Promise of it when async is true. */
static napi_value sign(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  bool async;
  if (!call_args(env, info, 2, argv, &async, "sign(signer, msg[, async])")) return NULL;
  signer_t* s = signer_arg(env, argv[0]);
  if (s == NULL) return NULL;
  size_t len;
  unsigned char* msg = bytes_arg(env, argv[1], "msg must be a Uint8Array", -1, &len);
  if (msg == NULL) return NULL;
  if (!async) {
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, msg, len, s->sk);
    return signature_value(env, sig);
  }
  job_t* j = job_new(env, msg, len);
  if (j == NULL) return NULL;
  j->signer = s;
  if (napi_create_reference(env, argv[0], 1, &j->signer_ref) != napi_ok) {
    job_free(env, j);
    napi_throw_error(env, "ED25519_NAPI", "ed25519 addon: napi_create_reference failed");
    return NULL;
  }
  return queue(env, j, sign_execute, sign_complete);
}

/* verify(publicKey, msg, sig[, async]) → boolean, or a Promise of it when async is true. */
static napi_value verify(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  bool async;
  if (!call_args(env, info, 3, argv, &async, "verify(publicKey, msg, sig[, async])")) return NULL;
  size_t len, n;
  unsigned char* pk = bytes_arg(env, argv[0], "publicKey must be a 32-byte Uint8Array", crypto_sign_PUBLICKEYBYTES, &n);
  if (pk == NULL) return NULL;
  unsigned char* msg = bytes_arg(env, argv[1], "msg must be a Uint8Array", -1, &len);
  if (msg == NULL) return NULL;
  unsigned char* sig = bytes_arg(env, argv[2], "sig must be a 64-byte Uint8Array", crypto_sign_BYTES, &n);
  if (sig == NULL) return NULL;
  if (!async) {
    napi_value v;
    CHECK(env, napi_get_boolean(env, crypto_sign_verify_detached(sig, msg, len, pk) == 0, &v));
    return v;
  }
  job_t* j = job_new(env, msg, len);
  if (j == NULL) return NULL;
  memcpy(j->pk, pk, sizeof j->pk);
  memcpy(j->sig, sig, sizeof j->sig);
  return queue(env, j, verify_execute, verify_complete);
}

static napi_value init(napi_env env, napi_value exports) {
  if (sodium_init() < 0) {
    napi_throw_error(env, "ED25519_INIT", "libsodium failed to initialise");
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"makeSigner", NULL, make_signer, NULL, NULL, NULL, napi_enumerable, NULL},
      {"publicKey", NULL, public_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sign", NULL, sign, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verify", NULL, verify, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
