/* Whether this is an AddressSanitizer build (gcc says so with a macro, clang
 * with __has_feature): SERVE_ASAN is 1 or 0. */
#ifndef DUCT_SERVE_ASAN_H
#define DUCT_SERVE_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define SERVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SERVE_ASAN 1
#endif
#endif
#ifndef SERVE_ASAN
#define SERVE_ASAN 0
#endif

#endif
