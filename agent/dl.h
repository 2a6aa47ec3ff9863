/* agent/dl.h: the libraries only the network path needs — libcurl, OpenSSL's libcrypto — and libsystemd for
 * sd-bus, loaded with dlopen() when first used rather than at every start: `boot` with a lock that
 * answers never loads them, which keeps it near a libc program's start time (systemd loads its optional
 * libraries the same way). Include after the library's own header: the names below then call through the
 * loaded symbols, each declared with the library's own prototype (systemd's DLSYM_PROTOTYPE), so the compiler
 * checks every call as if the library were linked. */
#pragma once

#include <stdbool.h>

#include "err.h"

/* The oldest libcurl boardpin runs on: CURLOPT_PROTOCOLS_STR and CURLOPT_REDIR_PROTOCOLS_STR came in
 * 7.85.0. Keep in step with the libcurl4 Depends of packaging/debian/control. */
#define DL_CURL_MIN_VERSION "7.85.0"
#define DL_CURL_MIN_VERSION_NUM 0x075500

/* Load libcurl (libcurl.so.4) once; 0, or -ENOENT with a message naming the package to install, or
 * -ENOTSUP with one naming both versions when it is older than DL_CURL_MIN_VERSION. */
int dl_curl(struct bp_err *err);

/* Load libcrypto (libcrypto.so.3) once. */
int dl_crypto(struct bp_err *err);

/* Load libsystemd (libsystemd.so.0) once, sd-bus's calls (agent/units.c); false when it or one of them is
 * not there (then units cannot be restarted). The journal needs none: log.c writes its socket itself. */
bool dl_systemd(void);

#define DLSYM_PROTOTYPE(symbol) extern __typeof__(symbol) *dl_sym_##symbol

#ifdef CURLINC_CURL_H
DLSYM_PROTOTYPE(curl_global_init);
DLSYM_PROTOTYPE(curl_version_info);
DLSYM_PROTOTYPE(curl_easy_init);
DLSYM_PROTOTYPE(curl_easy_strerror);
DLSYM_PROTOTYPE(curl_easy_cleanup);
DLSYM_PROTOTYPE(curl_free);
DLSYM_PROTOTYPE(curl_slist_append);
DLSYM_PROTOTYPE(curl_slist_free_all);
DLSYM_PROTOTYPE(curl_url);
DLSYM_PROTOTYPE(curl_url_set);
DLSYM_PROTOTYPE(curl_url_get);
DLSYM_PROTOTYPE(curl_url_cleanup);
DLSYM_PROTOTYPE(curl_multi_init);
DLSYM_PROTOTYPE(curl_multi_add_handle);
DLSYM_PROTOTYPE(curl_multi_remove_handle);
DLSYM_PROTOTYPE(curl_multi_perform);
DLSYM_PROTOTYPE(curl_multi_poll);
DLSYM_PROTOTYPE(curl_multi_info_read);
DLSYM_PROTOTYPE(curl_multi_cleanup);
DLSYM_PROTOTYPE(curl_multi_strerror);
#define curl_global_init dl_sym_curl_global_init
#define curl_version_info dl_sym_curl_version_info
#define curl_easy_init dl_sym_curl_easy_init
#define curl_easy_strerror dl_sym_curl_easy_strerror
#define curl_easy_cleanup dl_sym_curl_easy_cleanup
#define curl_free dl_sym_curl_free
#define curl_slist_append dl_sym_curl_slist_append
#define curl_slist_free_all dl_sym_curl_slist_free_all
#define curl_url dl_sym_curl_url
#define curl_url_set dl_sym_curl_url_set
#define curl_url_get dl_sym_curl_url_get
#define curl_url_cleanup dl_sym_curl_url_cleanup
#define curl_multi_init dl_sym_curl_multi_init
#define curl_multi_add_handle dl_sym_curl_multi_add_handle
#define curl_multi_remove_handle dl_sym_curl_multi_remove_handle
#define curl_multi_perform dl_sym_curl_multi_perform
#define curl_multi_poll dl_sym_curl_multi_poll
#define curl_multi_info_read dl_sym_curl_multi_info_read
#define curl_multi_cleanup dl_sym_curl_multi_cleanup
#define curl_multi_strerror dl_sym_curl_multi_strerror
/* The variadic three stay behind curl's own macros (typecheck-gcc.h checks each option's argument type):
 * those macros end in a call to the function's name, which is renamed here to a forwarder in dl.c that passes
 * the one argument on, typed by its option's range, as libcurl's own curl_easy_setopt reads it. The name in
 * parentheses keeps the macro from expanding. */
CURLcode(curl_easy_setopt)(CURL *curl, CURLoption option, ...) __asm__("dl_curl_easy_setopt");
CURLcode(curl_easy_getinfo)(CURL *curl, CURLINFO info, ...) __asm__("dl_curl_easy_getinfo");
CURLMcode(curl_multi_setopt)(CURLM *multi, CURLMoption option, ...) __asm__("dl_curl_multi_setopt");
#endif

#ifdef OPENSSL_EVP_H
DLSYM_PROTOTYPE(EVP_Digest);
DLSYM_PROTOTYPE(EVP_sha256);
DLSYM_PROTOTYPE(EVP_EncodeBlock);
DLSYM_PROTOTYPE(EVP_DecodeBlock);
#define EVP_Digest dl_sym_EVP_Digest
#define EVP_sha256 dl_sym_EVP_sha256
#define EVP_EncodeBlock dl_sym_EVP_EncodeBlock
#define EVP_DecodeBlock dl_sym_EVP_DecodeBlock
#endif

/* The signature checks of agent/verify.c: keys from PEM, EVP_DigestVerify. */
#ifdef OPENSSL_PEM_H
DLSYM_PROTOTYPE(BIO_new_mem_buf);
DLSYM_PROTOTYPE(BIO_free);
DLSYM_PROTOTYPE(PEM_read_bio_PUBKEY);
DLSYM_PROTOTYPE(EVP_PKEY_free);
DLSYM_PROTOTYPE(EVP_PKEY_get_base_id);
DLSYM_PROTOTYPE(EVP_PKEY_get_bits);
DLSYM_PROTOTYPE(EVP_PKEY_get_group_name);
DLSYM_PROTOTYPE(i2d_PUBKEY);
DLSYM_PROTOTYPE(EVP_MD_CTX_new);
DLSYM_PROTOTYPE(EVP_MD_CTX_free);
DLSYM_PROTOTYPE(EVP_DigestVerifyInit);
DLSYM_PROTOTYPE(EVP_DigestVerify);
DLSYM_PROTOTYPE(EVP_sha384);
#define BIO_new_mem_buf dl_sym_BIO_new_mem_buf
#define BIO_free dl_sym_BIO_free
#define PEM_read_bio_PUBKEY dl_sym_PEM_read_bio_PUBKEY
#define EVP_PKEY_free dl_sym_EVP_PKEY_free
#define EVP_PKEY_get_base_id dl_sym_EVP_PKEY_get_base_id
#define EVP_PKEY_get_bits dl_sym_EVP_PKEY_get_bits
#define EVP_PKEY_get_group_name dl_sym_EVP_PKEY_get_group_name
#define i2d_PUBKEY dl_sym_i2d_PUBKEY
#define EVP_MD_CTX_new dl_sym_EVP_MD_CTX_new
#define EVP_MD_CTX_free dl_sym_EVP_MD_CTX_free
#define EVP_DigestVerifyInit dl_sym_EVP_DigestVerifyInit
#define EVP_DigestVerify dl_sym_EVP_DigestVerify
#define EVP_sha384 dl_sym_EVP_sha384
#endif

#ifdef OPENSSL_ERR_H
DLSYM_PROTOTYPE(ERR_clear_error);
#define ERR_clear_error dl_sym_ERR_clear_error
#endif

#ifdef foosdbushfoo
DLSYM_PROTOTYPE(sd_bus_open_system);
DLSYM_PROTOTYPE(sd_bus_new);
DLSYM_PROTOTYPE(sd_bus_set_address);
DLSYM_PROTOTYPE(sd_bus_start);
DLSYM_PROTOTYPE(sd_bus_flush_close_unref);
DLSYM_PROTOTYPE(sd_bus_call);
DLSYM_PROTOTYPE(sd_bus_process);
DLSYM_PROTOTYPE(sd_bus_wait);
DLSYM_PROTOTYPE(sd_bus_match_signal);
DLSYM_PROTOTYPE(sd_bus_slot_unref);
DLSYM_PROTOTYPE(sd_bus_message_new_method_call);
DLSYM_PROTOTYPE(sd_bus_message_append);
DLSYM_PROTOTYPE(sd_bus_message_read);
DLSYM_PROTOTYPE(sd_bus_message_unref);
DLSYM_PROTOTYPE(sd_bus_error_free);
#define sd_bus_open_system dl_sym_sd_bus_open_system
#define sd_bus_new dl_sym_sd_bus_new
#define sd_bus_set_address dl_sym_sd_bus_set_address
#define sd_bus_start dl_sym_sd_bus_start
#define sd_bus_flush_close_unref dl_sym_sd_bus_flush_close_unref
#define sd_bus_call dl_sym_sd_bus_call
#define sd_bus_process dl_sym_sd_bus_process
#define sd_bus_wait dl_sym_sd_bus_wait
#define sd_bus_match_signal dl_sym_sd_bus_match_signal
#define sd_bus_slot_unref dl_sym_sd_bus_slot_unref
#define sd_bus_message_new_method_call dl_sym_sd_bus_message_new_method_call
#define sd_bus_message_append dl_sym_sd_bus_message_append
#define sd_bus_message_read dl_sym_sd_bus_message_read
#define sd_bus_message_unref dl_sym_sd_bus_message_unref
#define sd_bus_error_free dl_sym_sd_bus_error_free
#endif
