/* agent/dl.c: see dl.h. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <systemd/sd-journal.h>

#include "dl.h"

struct dl_curl_api dl_curl_api;
struct dl_crypto_api dl_crypto_api;
int (*dl_sd_journal_send)(const char *format, ...);

struct sym {
        const char *name;
        void **slot;
};

/* dlopen() name (the SONAME the -dev package links against) and every symbol, all or nothing. */
static int load(const char *soname, const struct sym *syms, size_t n, bool *done)
{
        void *h;

        if (*done)
                return 0;
        h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return -ENOENT;
        for (size_t i = 0; i < n; i++) {
                *syms[i].slot = dlsym(h, syms[i].name);
                if (!*syms[i].slot) {
                        (void) dlclose(h);
                        return -ENOENT;
                }
        }
        *done = true;           /* the handle stays open for the life of the process */
        return 0;
}

#define SYM(api, field, name) { name, (void **) &(api).field }

int dl_curl(struct bp_err *err)
{
        static bool done;
        static const struct sym syms[] = {
                SYM(dl_curl_api, global_init, "curl_global_init"),
                SYM(dl_curl_api, easy_init, "curl_easy_init"),
                SYM(dl_curl_api, easy_setopt, "curl_easy_setopt"),
                SYM(dl_curl_api, easy_perform, "curl_easy_perform"),
                SYM(dl_curl_api, easy_getinfo, "curl_easy_getinfo"),
                SYM(dl_curl_api, easy_strerror, "curl_easy_strerror"),
                SYM(dl_curl_api, easy_cleanup, "curl_easy_cleanup"),
                SYM(dl_curl_api, easy_escape, "curl_easy_escape"),
                SYM(dl_curl_api, free, "curl_free"),
                SYM(dl_curl_api, slist_append, "curl_slist_append"),
                SYM(dl_curl_api, slist_free_all, "curl_slist_free_all"),
                SYM(dl_curl_api, url, "curl_url"),
                SYM(dl_curl_api, url_set, "curl_url_set"),
                SYM(dl_curl_api, url_get, "curl_url_get"),
                SYM(dl_curl_api, url_cleanup, "curl_url_cleanup"),
        };

        if (load("libcurl.so.4", syms, sizeof(syms) / sizeof(syms[0]), &done) < 0)
                return bp_fail(err, -ENOENT, "cannot load libcurl.so.4 (install libcurl4): %s", dlerror());
        return 0;
}

int dl_crypto(struct bp_err *err)
{
        static bool done;
        static const struct sym syms[] = {
                SYM(dl_crypto_api, Digest, "EVP_Digest"),
                SYM(dl_crypto_api, sha256, "EVP_sha256"),
                SYM(dl_crypto_api, EncodeBlock, "EVP_EncodeBlock"),
                SYM(dl_crypto_api, DecodeBlock, "EVP_DecodeBlock"),
        };

        if (load("libcrypto.so.3", syms, sizeof(syms) / sizeof(syms[0]), &done) < 0)
                return bp_fail(err, -ENOENT, "cannot load libcrypto.so.3 (install libssl3): %s", dlerror());
        return 0;
}

bool dl_systemd(void)
{
        static bool done;
        static const struct sym syms[] = {
                { "sd_journal_send", (void **) &dl_sd_journal_send },
        };

        return load("libsystemd.so.0", syms, 1, &done) == 0;
}
