/* agent/dl.c: see dl.h. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stddef.h>
#include <systemd/sd-bus.h>

#include "dl.h"

/* In this file the names are macros already (dl.h): the type comes from the declaration. */
#define DLSYM_DEFINE(symbol) __typeof__(*dl_sym_##symbol) *dl_sym_##symbol
DLSYM_DEFINE(curl_global_init);
DLSYM_DEFINE(curl_version_info);
DLSYM_DEFINE(curl_easy_init);
DLSYM_DEFINE(curl_easy_strerror);
DLSYM_DEFINE(curl_easy_cleanup);
DLSYM_DEFINE(curl_free);
DLSYM_DEFINE(curl_slist_append);
DLSYM_DEFINE(curl_slist_free_all);
DLSYM_DEFINE(curl_url);
DLSYM_DEFINE(curl_url_set);
DLSYM_DEFINE(curl_url_get);
DLSYM_DEFINE(curl_url_cleanup);
DLSYM_DEFINE(curl_multi_init);
DLSYM_DEFINE(curl_multi_add_handle);
DLSYM_DEFINE(curl_multi_remove_handle);
DLSYM_DEFINE(curl_multi_perform);
DLSYM_DEFINE(curl_multi_poll);
DLSYM_DEFINE(curl_multi_info_read);
DLSYM_DEFINE(curl_multi_cleanup);
DLSYM_DEFINE(curl_multi_strerror);
DLSYM_DEFINE(EVP_Digest);
DLSYM_DEFINE(EVP_sha256);
DLSYM_DEFINE(EVP_EncodeBlock);
DLSYM_DEFINE(EVP_DecodeBlock);
DLSYM_DEFINE(BIO_new_mem_buf);
DLSYM_DEFINE(BIO_free);
DLSYM_DEFINE(PEM_read_bio_PUBKEY);
DLSYM_DEFINE(EVP_PKEY_free);
DLSYM_DEFINE(EVP_PKEY_get_base_id);
DLSYM_DEFINE(EVP_PKEY_get_bits);
DLSYM_DEFINE(EVP_PKEY_get_group_name);
DLSYM_DEFINE(i2d_PUBKEY);
DLSYM_DEFINE(EVP_MD_CTX_new);
DLSYM_DEFINE(EVP_MD_CTX_free);
DLSYM_DEFINE(EVP_DigestVerifyInit);
DLSYM_DEFINE(EVP_DigestVerify);
DLSYM_DEFINE(EVP_sha384);
DLSYM_DEFINE(ERR_clear_error);
DLSYM_DEFINE(sd_bus_open_system);
DLSYM_DEFINE(sd_bus_new);
DLSYM_DEFINE(sd_bus_set_address);
DLSYM_DEFINE(sd_bus_start);
DLSYM_DEFINE(sd_bus_flush_close_unref);
DLSYM_DEFINE(sd_bus_call);
DLSYM_DEFINE(sd_bus_process);
DLSYM_DEFINE(sd_bus_wait);
DLSYM_DEFINE(sd_bus_match_signal);
DLSYM_DEFINE(sd_bus_slot_unref);
DLSYM_DEFINE(sd_bus_message_new_method_call);
DLSYM_DEFINE(sd_bus_message_append);
DLSYM_DEFINE(sd_bus_message_read);
DLSYM_DEFINE(sd_bus_message_unref);
DLSYM_DEFINE(sd_bus_error_free);

static __typeof__(curl_easy_setopt) *real_easy_setopt;
static __typeof__(curl_easy_getinfo) *real_easy_getinfo;
static __typeof__(curl_multi_setopt) *real_multi_setopt;

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
        *done = true; /* the handle stays open for the life of the process */
        return 0;
}

#define SYM(symbol)                                 \
        {                                           \
#symbol, (void **) &dl_sym_##symbol \
        }

int dl_curl(struct bp_err *err)
{
        static bool done;
        static const struct sym syms[] = {
                SYM(curl_global_init),
                SYM(curl_version_info),
                SYM(curl_easy_init),
                SYM(curl_easy_strerror),
                SYM(curl_easy_cleanup),
                SYM(curl_free),
                SYM(curl_slist_append),
                SYM(curl_slist_free_all),
                SYM(curl_url),
                SYM(curl_url_set),
                SYM(curl_url_get),
                SYM(curl_url_cleanup),
                SYM(curl_multi_init),
                SYM(curl_multi_add_handle),
                SYM(curl_multi_remove_handle),
                SYM(curl_multi_perform),
                SYM(curl_multi_poll),
                SYM(curl_multi_info_read),
                SYM(curl_multi_cleanup),
                SYM(curl_multi_strerror),
                { "curl_easy_setopt", (void **) &real_easy_setopt },
                { "curl_easy_getinfo", (void **) &real_easy_getinfo },
                { "curl_multi_setopt", (void **) &real_multi_setopt },
        };

        const curl_version_info_data *v;

        if (load("libcurl.so.4", syms, sizeof(syms) / sizeof(syms[0]), &done) < 0)
                return bp_fail(err, -ENOENT, "cannot load libcurl.so.4 (install libcurl4): %s", dlerror());
        /* An older one takes the options it does not know as errors (every one is checked), but a
         * run that fails on the first request says less than this. */
        v = curl_version_info(CURLVERSION_NOW);
        if (!v || v->version_num < DL_CURL_MIN_VERSION_NUM)
                return bp_fail(err, -ENOTSUP, "libcurl %s is too old: boardpin needs %s or newer",
                               v && v->version ? v->version : "(unknown)", DL_CURL_MIN_VERSION);
        return 0;
}

/* The forwarders dl.h names: one argument, its type given by the option number's range (curl.h's
 * CURLOPTTYPE_* and CURLINFO_TYPEMASK), exactly as libcurl's own variadic entry points read it. */
CURLcode(curl_easy_setopt)(CURL *curl, CURLoption option, ...)
{
        va_list ap;
        CURLcode r;

        va_start(ap, option);
        if (option < CURLOPTTYPE_OBJECTPOINT)
                r = real_easy_setopt(curl, option, va_arg(ap, long));
        else if (option < CURLOPTTYPE_FUNCTIONPOINT)
                r = real_easy_setopt(curl, option, va_arg(ap, void *));
        else if (option < CURLOPTTYPE_OFF_T)
                r = real_easy_setopt(curl, option, va_arg(ap, void (*)(void)));
        else if (option < CURLOPTTYPE_BLOB)
                r = real_easy_setopt(curl, option, va_arg(ap, curl_off_t));
        else
                r = real_easy_setopt(curl, option, va_arg(ap, void *));
        va_end(ap);
        return r;
}

CURLcode(curl_easy_getinfo)(CURL *curl, CURLINFO info, ...)
{
        va_list ap;
        CURLcode r;

        va_start(ap, info);
        r = real_easy_getinfo(curl, info, va_arg(ap, void *)); /* always a pointer to the result */
        va_end(ap);
        return r;
}

CURLMcode(curl_multi_setopt)(CURLM *multi, CURLMoption option, ...)
{
        va_list ap;
        CURLMcode r;

        va_start(ap, option);
        if (option < CURLOPTTYPE_OBJECTPOINT)
                r = real_multi_setopt(multi, option, va_arg(ap, long));
        else if (option < CURLOPTTYPE_FUNCTIONPOINT)
                r = real_multi_setopt(multi, option, va_arg(ap, void *));
        else if (option < CURLOPTTYPE_OFF_T)
                r = real_multi_setopt(multi, option, va_arg(ap, void (*)(void)));
        else
                r = real_multi_setopt(multi, option, va_arg(ap, curl_off_t));
        va_end(ap);
        return r;
}

int dl_crypto(struct bp_err *err)
{
        static bool done;
        static const struct sym syms[] = {
                SYM(EVP_Digest),
                SYM(EVP_sha256),
                SYM(EVP_EncodeBlock),
                SYM(EVP_DecodeBlock),
                SYM(BIO_new_mem_buf),
                SYM(BIO_free),
                SYM(PEM_read_bio_PUBKEY),
                SYM(EVP_PKEY_free),
                SYM(EVP_PKEY_get_base_id),
                SYM(EVP_PKEY_get_bits),
                SYM(EVP_PKEY_get_group_name),
                SYM(i2d_PUBKEY),
                SYM(EVP_MD_CTX_new),
                SYM(EVP_MD_CTX_free),
                SYM(EVP_DigestVerifyInit),
                SYM(EVP_DigestVerify),
                SYM(EVP_sha384),
                SYM(ERR_clear_error),
        };

        if (load("libcrypto.so.3", syms, sizeof(syms) / sizeof(syms[0]), &done) < 0)
                return bp_fail(err, -ENOENT, "cannot load libcrypto.so.3 (install libssl3): %s", dlerror());
        return 0;
}

bool dl_systemd(void)
{
        static bool done;
        static const struct sym syms[] = {
                SYM(sd_bus_open_system),
                SYM(sd_bus_new),
                SYM(sd_bus_set_address),
                SYM(sd_bus_start),
                SYM(sd_bus_flush_close_unref),
                SYM(sd_bus_call),
                SYM(sd_bus_process),
                SYM(sd_bus_wait),
                SYM(sd_bus_match_signal),
                SYM(sd_bus_slot_unref),
                SYM(sd_bus_message_new_method_call),
                SYM(sd_bus_message_append),
                SYM(sd_bus_message_read),
                SYM(sd_bus_message_unref),
                SYM(sd_bus_error_free),
        };

        return load("libsystemd.so.0", syms, sizeof(syms) / sizeof(syms[0]), &done) == 0;
}
