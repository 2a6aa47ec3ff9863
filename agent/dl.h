/* agent/dl.h: the libraries only the network path needs — libcurl, OpenSSL's libcrypto — and libsystemd
 * for the journal, loaded with dlopen() when first used rather than at every start: `boot` with a lock
 * that answers never loads them, which keeps it near a libc program's start time (systemd loads its
 * optional libraries the same way). Include after the library's own header: the names below then call
 * through the loaded symbols. */
#pragma once

#include <stdbool.h>

#include "err.h"

/* Load libcurl (libcurl.so.4) once; 0, or -ENOENT with a message naming the package to install. */
int dl_curl(struct bp_err *err);

/* Load libcrypto (libcrypto.so.3) once. */
int dl_crypto(struct bp_err *err);

/* Load libsystemd (libsystemd.so.0) once; false when it is not there (then logs go to stderr). */
bool dl_systemd(void);

#ifdef CURLINC_CURL_H
struct dl_curl_api {
        CURLcode (*global_init)(long flags);
        CURL *(*easy_init)(void);
        CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
        CURLcode (*easy_perform)(CURL *curl);
        CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
        const char *(*easy_strerror)(CURLcode code);
        void (*easy_cleanup)(CURL *curl);
        char *(*easy_escape)(CURL *curl, const char *string, int length);
        void (*free)(void *p);
        struct curl_slist *(*slist_append)(struct curl_slist *list, const char *string);
        void (*slist_free_all)(struct curl_slist *list);
        CURLU *(*url)(void);
        CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part, unsigned int flags);
        CURLUcode (*url_get)(const CURLU *u, CURLUPart what, char **part, unsigned int flags);
        void (*url_cleanup)(CURLU *u);
};
extern struct dl_curl_api dl_curl_api;
#define curl_global_init dl_curl_api.global_init
#define curl_easy_init dl_curl_api.easy_init
#undef curl_easy_setopt
#define curl_easy_setopt dl_curl_api.easy_setopt
#define curl_easy_perform dl_curl_api.easy_perform
#undef curl_easy_getinfo
#define curl_easy_getinfo dl_curl_api.easy_getinfo
#define curl_easy_strerror dl_curl_api.easy_strerror
#define curl_easy_cleanup dl_curl_api.easy_cleanup
#define curl_easy_escape dl_curl_api.easy_escape
#define curl_free dl_curl_api.free
#define curl_slist_append dl_curl_api.slist_append
#define curl_slist_free_all dl_curl_api.slist_free_all
#define curl_url dl_curl_api.url
#define curl_url_set dl_curl_api.url_set
#define curl_url_get dl_curl_api.url_get
#define curl_url_cleanup dl_curl_api.url_cleanup
#endif

#ifdef OPENSSL_EVP_H
struct dl_crypto_api {
        int (*Digest)(const void *data, size_t count, unsigned char *md, unsigned int *size, const EVP_MD *type,
                      ENGINE *impl);
        const EVP_MD *(*sha256)(void);
        int (*EncodeBlock)(unsigned char *t, const unsigned char *f, int n);
        int (*DecodeBlock)(unsigned char *t, const unsigned char *f, int n);
};
extern struct dl_crypto_api dl_crypto_api;
#define EVP_Digest dl_crypto_api.Digest
#define EVP_sha256 dl_crypto_api.sha256
#define EVP_EncodeBlock dl_crypto_api.EncodeBlock
#define EVP_DecodeBlock dl_crypto_api.DecodeBlock
#endif

#ifdef foosdjournalhfoo
extern int (*dl_sd_journal_send)(const char *format, ...);
#undef sd_journal_send
#define sd_journal_send dl_sd_journal_send
#endif
