// LeakSanitizer's suppressions for the test binaries of an address-sanitizer build
// (-DSHOAL_SANITIZE=address); compiled into them by shoal_test_binary.
//
// libcrypto: when a TLS handshake fails (ClusterTlsTest's untrusting client), Debian's
// gRPC 1.51 now and then leaves an OpenSSL object of ~900 bytes unfreed. It is OpenSSL
// state that gRPC owns (Shoal never calls OpenSSL), and the uninstrumented library gives
// LeakSanitizer no stack beyond CRYPTO_zalloc to tell it apart by, so all of libcrypto's
// leaks are suppressed and nothing else.

// Called by the sanitizer runtime at start-up: one suppression per line.
extern "C" const char* __lsan_default_suppressions() { return "leak:libcrypto.so\n"; }
