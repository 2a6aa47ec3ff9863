/* tests/unit/test-verify.c: image signatures against what real signers wrote (cosign 2.5 and skopeo 1.18
 * in Debian 13, keys by openssl; tests/fixtures/signatures/make.sh and each case's SOURCE), bundles from
 * the wild, and the hostile cases: every one of them must be refused. Payloads no fixture has are signed
 * here with keys made by libcrypto, so the checks after the signature are reached. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "verify.h"

#define SIG FIXTURES "/signatures/"
#define APP "127.0.0.1:5055/signed/app"

static char *fx(const char *rel, size_t *len)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), SIG "%s", rel);
        return slurp(path, len);
}

/* A one-line fixture (a digest), without its newline. */
static char *fx_line(const char *rel)
{
        char *s = fx(rel, NULL);

        s[strcspn(s, "\n")] = '\0';
        return s;
}

static struct bp_key *key_text(const char *what, const char *pem, size_t len)
{
        struct bp_key *k = NULL;
        struct bp_err err = { 0 };

        if (verify_key_parse(what, pem, len, &k, &err) != 0)
                fail_msg("%s: %s", what, err.msg);
        assert_non_null(k);
        return k;
}

static struct bp_key *key(const char *rel)
{
        size_t len;
        char *pem = fx(rel, &len);
        struct bp_key *k = key_text(rel, pem, len);

        free(pem);
        return k;
}

static char *b64(const void *data, size_t n)
{
        char *out = malloc(4 * ((n + 2) / 3) + 1);

        assert_non_null(out);
        EVP_EncodeBlock((unsigned char *) out, data, (int) n);
        return out;
}

/* Decoded length, padding taken off (EVP_DecodeBlock counts it as zero bytes). */
static size_t unb64(const char *text, unsigned char *raw)
{
        size_t len = strlen(text);
        int n = EVP_DecodeBlock(raw, (const unsigned char *) text, (int) len);

        assert_true(n >= 0);
        return (size_t) n - (len > 0 && text[len - 1] == '=') - (len > 1 && text[len - 2] == '=');
}

static void sha256_hex(const void *data, size_t n, char out[static REF_DIGEST_MAX])
{
        unsigned char md[32];
        unsigned int mdlen;

        EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL);
        strcpy(out, "sha256:");
        for (int i = 0; i < 32; i++)
                sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

/* A classic signature: layer `layer` of case/manifest, checked as is. */
struct classic {
        char *blob;
        size_t len;
        char digest[REF_DIGEST_MAX];
        char *sig;
};

static void classic_load(const char *dir, const char *manifest, size_t layer, struct classic *c)
{
        char rel[256];
        struct bp_sig_list l = { 0 };
        struct bp_err err = { 0 };
        size_t len;
        char *text;

        snprintf(rel, sizeof(rel), "%s/%s", dir, manifest);
        text = fx(rel, &len);
        if (verify_sig_manifest_parse(text, len, VERIFY_SIMPLESIGNING_TYPE, &l, &err) != 0)
                fail_msg("%s: %s", rel, err.msg);
        free(text);
        assert_true(layer < l.n);
        memcpy(c->digest, l.desc[layer].digest, REF_DIGEST_MAX);
        c->sig = strdup(l.desc[layer].signature);
        snprintf(rel, sizeof(rel), "%s/sha256-%s", dir, c->digest + 7);
        c->blob = fx(rel, &c->len);
        assert_int_equal(c->len, l.desc[layer].size);
        verify_sig_list_done(&l);
}

static void classic_done(struct classic *c)
{
        free(c->blob);
        free(c->sig);
}

static enum bp_sig_outcome classic_check(struct bp_key *const *keys, size_t n, const struct classic *c,
                                         const char *digest, const char *repo, struct bp_sig_result *res)
{
        struct bp_err err = { 0 };

        if (verify_simplesigning(keys, n, c->blob, c->len, c->digest, c->sig, digest, repo, res, &err) != 0)
                fail_msg("verify_simplesigning: %s", err.msg);
        assert_null(strchr(res->reason, '\n'));
        return res->outcome;
}

static char *bundle_blob(const char *dir, size_t *len);

static void assert_outcome(const struct bp_sig_result *r, enum bp_sig_outcome want, const char *reason)
{
        if (r->outcome != want)
                fail_msg("outcome %d, want %d (%s)", r->outcome, want, r->reason);
        if (reason && !strstr(r->reason, reason))
                fail_msg("reason '%s' lacks '%s'", r->reason, reason);
}

static void keys_accepted(void **state)
{
        static const struct {
                const char *file, *type;
        } cases[] = {
                { "keys/p256.pub", "ECDSA P-256" }, { "keys/p384.pub", "ECDSA P-384" },
                { "keys/ed25519.pub", "Ed25519" },  { "keys/rsa2048.pub", "RSA-2048" },
                { "key1.pub", "ECDSA P-256" },
        };
        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct bp_key *k = key(cases[i].file);

                assert_string_equal(verify_key_type(k), cases[i].type);
                assert_int_equal(strlen(verify_key_fingerprint(k)), 7 + 43);
                assert_memory_equal(verify_key_fingerprint(k), "SHA256:", 7);
                verify_key_free(k);
        }
}

/* cosign's bundle names its key by the base64 SHA-256 of the key's DER SPKI (Go's, not ours): the same
 * bytes as our fingerprint, with the padding OpenSSH leaves out. */
static void key_fingerprint_matches_cosign(void **state)
{
        json_object *o, *hint;
        struct bp_key *k = key("key1.pub");
        char *blob, want[64];
        const char *h;

        (void) state;
        size_t len;

        blob = bundle_blob("bundle", &len);
        o = json_tokener_parse(blob);
        assert_non_null(o);
        assert_true(
                json_object_object_get_ex(json_object_object_get(o, "verificationMaterial"), "publicKey", &hint));
        h = json_object_get_string(json_object_object_get(hint, "hint"));
        assert_int_equal(strlen(h), 44);
        assert_int_equal(h[43], '=');
        snprintf(want, sizeof(want), "SHA256:%.43s", h);
        assert_string_equal(verify_key_fingerprint(k), want);
        json_object_put(o);
        free(blob);
        verify_key_free(k);
}

static void assert_key_refused(const char *what, const char *pem, size_t len, int r, const char *want)
{
        struct bp_key *k = NULL;
        struct bp_err err = { 0 };

        if (verify_key_parse(what, pem, len, &k, &err) != r)
                fail_msg("%s was not refused with %d: '%s'", what, r, err.msg);
        assert_null(k);
        assert_non_null(strstr(err.msg, what));
        if (!strstr(err.msg, want))
                fail_msg("%s: message '%s' lacks '%s'", what, err.msg, want);
}

static void keys_refused(void **state)
{
        static const struct {
                const char *file, *want;
        } cases[] = {
                { "keys/rsa1024.pub", "RSA of 1024 bits is too weak" },
                { "keys/k256.pub", "curve secp256k1 is not accepted" },
                { "keys/p256-private.pem", "holds a private key" },
                { "key1.pub", NULL },
        };
        char both[4096], *a, *b;
        size_t la, lb;

        (void) state;
        for (size_t i = 0; cases[i].want; i++) {
                size_t len;
                char *pem = fx(cases[i].file, &len);

                assert_key_refused(cases[i].file, pem, len, -EINVAL, cases[i].want);
                free(pem);
        }
        /* A public key next to a private one would load if only the first public block were read. */
        a = fx("keys/p256-private.pem", &la);
        b = fx("keys/p256.pub", &lb);
        memcpy(both, b, lb);
        memcpy(both + lb, a, la);
        assert_key_refused("pub+priv", both, la + lb, -EINVAL, "holds a private key");
        free(a);
        a = fx("keys/p384.pub", &la);
        memcpy(both + lb, a, la);
        assert_key_refused("two keys", both, la + lb, -EINVAL, "more than one PEM block");
        assert_key_refused("empty", "", 0, -EINVAL, "no PEM public key");
        assert_key_refused("garbage", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 56, -EINVAL,
                           "not a PEM public key");
        assert_key_refused("cert", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 58, -EINVAL,
                           "not a PEM public key");
        /* cosign's own private key file says ENCRYPTED SIGSTORE PRIVATE KEY. */
        assert_key_refused("cosign.key", "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n", 47, -EINVAL,
                           "holds a private key");
        free(a);
        free(b);
}

static void key_files(void **state)
{
        const char *dir = *state;
        char path[PATH_MAX];
        struct bp_key *k = NULL;
        struct bp_err err = { 0 };
        size_t len;
        char *pem = fx("keys/p256.pub", &len);

        put_file(dir, "k.pub", pem, len);
        snprintf(path, sizeof(path), "%s/k.pub", dir);
        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(verify_key_load(path, &k, &err), 0);
        assert_string_equal(verify_key_type(k), "ECDSA P-256");
        verify_key_free(k);
        k = NULL;
        assert_int_equal(chmod(path, 0664), 0);
        assert_int_equal(verify_key_load(path, &k, &err), -EPERM);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, "writable by its group"));
        assert_int_equal(chmod(path, 0646), 0);
        assert_int_equal(verify_key_load(path, &k, &err), -EPERM);
        assert_non_null(strstr(err.msg, "writable by others"));
        assert_null(k);
        snprintf(path, sizeof(path), "%s/missing.pub", dir);
        assert_int_equal(verify_key_load(path, &k, &err), -ENOENT);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, "No such file"));
        assert_int_equal(verify_key_load(dir, &k, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "not a regular file"));
        /* Over the cap, not cut at it. */
        {
                char *big = malloc(20000);

                memset(big, ' ', 20000);
                memcpy(big + 20000 - len, pem, len);
                put_file(dir, "big.pub", big, 20000);
                free(big);
        }
        snprintf(path, sizeof(path), "%s/big.pub", dir);
        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(verify_key_load(path, &k, &err), -EFBIG);
        assert_null(k);
        free(pem);
}

/* classic-index's payload as each key type signs it (openssl), checked the way a cosign signature is. */
static void key_types_verify(void **state)
{
        static const struct {
                const char *key, *sig;
        } cases[] = {
                { "keys/p256.pub", "keys/p256.sig" },        { "keys/p384.pub", "keys/p384.sig" },
                { "keys/p384.pub", "keys/p384-sha384.sig" }, { "keys/ed25519.pub", "keys/ed25519.sig" },
                { "keys/rsa2048.pub", "keys/rsa2048.sig" },
        };
        struct classic c = { 0 };
        struct bp_sig_result res;
        char *digest = fx_line("index-digest");

        (void) state;
        classic_load("classic-index", "sig-manifest.json", 0, &c);
        free(c.sig);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct bp_key *k = key(cases[i].key);
                size_t n;
                char *raw = fx(cases[i].sig, &n);

                c.sig = b64(raw, n);
                if (classic_check(&k, 1, &c, digest, APP, &res) != BP_SIG_VERIFIED)
                        fail_msg("%s with %s: %s", cases[i].sig, cases[i].key, res.reason);
                assert_string_equal(res.key_fp, verify_key_fingerprint(k));
                free(c.sig);
                c.sig = NULL;
                /* The same signature offered to every other key type fails: an Ed25519 signature to an
                 * ECDSA key, a DER one to Ed25519, and so on. */
                for (size_t j = 0; j < sizeof(cases) / sizeof(cases[0]); j++) {
                        struct bp_key *other = key(cases[j].key);

                        if (strcmp(cases[j].key, cases[i].key) != 0) {
                                c.sig = b64(raw, n);
                                classic_check(&other, 1, &c, digest, APP, &res);
                                assert_outcome(&res, BP_SIG_UNKNOWN_KEY, "no listed key");
                                free(c.sig);
                                c.sig = NULL;
                        }
                        verify_key_free(other);
                }
                free(raw);
                verify_key_free(k);
        }
        classic_done(&c);
        free(digest);
}

static void classic_index(void **state)
{
        struct bp_key *k1 = key("key1.pub"), *k2 = key("key2.pub");
        struct bp_key *both[] = { k2, k1 };
        struct classic c = { 0 };
        struct bp_sig_result res;
        char *digest = fx_line("index-digest"), ref[256];

        (void) state;
        classic_load("classic-index", "sig-manifest.json", 0, &c);
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_VERIFIED, NULL);
        assert_string_equal(res.reason, "");
        assert_string_equal(res.key_fp, verify_key_fingerprint(k1));
        assert_string_equal(res.signed_digest, digest);
        assert_int_equal(res.format, BP_SIG_SIMPLESIGNING);
        /* The key listed is not the one that signed. */
        classic_check(&k2, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_UNKNOWN_KEY, "no listed key verifies");
        assert_string_equal(res.key_fp, "");
        classic_check(&k2, 0, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_UNKNOWN_KEY, NULL);
        /* Two keys listed, one signing. */
        classic_check(both, 2, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_VERIFIED, NULL);
        assert_string_equal(res.key_fp, verify_key_fingerprint(k1));
        /* The image's name as config and lock write it: tag or digest dropped. */
        classic_check(&k1, 1, &c, digest, APP ":1", &res);
        assert_outcome(&res, BP_SIG_VERIFIED, NULL);
        snprintf(ref, sizeof(ref), APP "@%s", digest);
        classic_check(&k1, 1, &c, digest, ref, &res);
        assert_outcome(&res, BP_SIG_VERIFIED, NULL);
        classic_done(&c);
        free(digest);
        verify_key_free(k1);
        verify_key_free(k2);
}

static void classic_hostile(void **state)
{
        struct bp_key *k1 = key("key1.pub");
        struct classic c = { 0 };
        struct bp_sig_result res;
        char *digest = fx_line("index-digest"), *arm64 = fx_line("arm64-digest");
        char good_digest[REF_DIGEST_MAX], *good_sig, *raw_sig;
        unsigned char raw[512];
        int n;

        (void) state;
        classic_load("classic-index", "sig-manifest.json", 0, &c);
        /* A valid signature, copied to another repository. */
        classic_check(&k1, 1, &c, digest, "127.0.0.1:5055/signed/other", &res);
        assert_outcome(&res, BP_SIG_OTHER_IMAGE, "signs it as 127.0.0.1:5055/signed/app, not");
        classic_check(&k1, 1, &c, digest, "127.0.0.1:5056/signed/app", &res);
        assert_outcome(&res, BP_SIG_OTHER_IMAGE, NULL);
        /* A valid signature over another digest. */
        classic_check(&k1, 1, &c, arm64, APP, &res);
        assert_outcome(&res, BP_SIG_OTHER_DIGEST, "signs sha256:");
        assert_string_equal(res.signed_digest, digest);
        /* A flipped byte in the payload: first its layer digest no longer matches, then, with the digest
         * made to match, the signature does not. */
        memcpy(good_digest, c.digest, sizeof(good_digest));
        c.blob[40] ^= 1;
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_INVALID, "not the sha256:");
        sha256_hex(c.blob, c.len, c.digest);
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_UNKNOWN_KEY, NULL);
        c.blob[40] ^= 1;
        memcpy(c.digest, good_digest, sizeof(good_digest));
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_VERIFIED, NULL);
        /* A flipped byte in the signature, a truncated one, one with a byte more (DER is exact), and
         * bytes that are no DER at all. */
        good_sig = c.sig;
        n = (int) unb64(good_sig, raw);
        assert_true(n > 60);
        raw[n / 2] ^= 0x10;
        c.sig = b64(raw, (size_t) n);
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_UNKNOWN_KEY, NULL);
        free(c.sig);
        raw[n / 2] ^= 0x10;
        c.sig = b64(raw, (size_t) n - 1);
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_UNKNOWN_KEY, NULL);
        free(c.sig);
        raw[n] = 0;
        c.sig = b64(raw, (size_t) n + 1);
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_UNKNOWN_KEY, NULL);
        free(c.sig);
        raw_sig = b64(raw, (size_t) n);
        assert_string_equal(raw_sig, good_sig); /* the untouched bytes still verify: the cases above are real */
        c.sig = raw_sig;
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_VERIFIED, NULL);
        c.sig = (char *) "AAAA";
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_UNKNOWN_KEY, NULL);
        c.sig = (char *) "MEUCIQ#$";
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_INVALID, "not base64");
        c.sig = (char *) "";
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_INVALID, NULL);
        c.sig = raw_sig;
        /* An oversized payload is refused before any work. */
        {
                size_t big = VERIFY_DOC_MAX_BYTES + 1;
                char *blob = calloc(1, big), d[REF_DIGEST_MAX], *keep = c.blob;
                size_t keep_len = c.len;

                sha256_hex(blob, big, d);
                c.blob = blob;
                c.len = big;
                memcpy(c.digest, d, sizeof(d));
                classic_check(&k1, 1, &c, digest, APP, &res);
                assert_outcome(&res, BP_SIG_INVALID, "over 65536");
                free(blob);
                c.blob = keep;
                c.len = keep_len;
        }
        free(good_sig);
        free(raw_sig);
        c.sig = NULL;
        classic_done(&c);
        free(digest);
        free(arm64);
        verify_key_free(k1);
}

static void classic_child_and_skopeo(void **state)
{
        struct bp_key *k1 = key("key1.pub");
        struct classic c = { 0 };
        struct bp_sig_result res;
        char *digest = fx_line("index-digest"), *arm64 = fx_line("arm64-digest");

        (void) state;
        /* cosign over a per-architecture child. */
        classic_load("classic-child", "sig-manifest.json", 0, &c);
        classic_check(&k1, 1, &c, arm64, "127.0.0.1:5055/signed/child", &res);
        assert_outcome(&res, BP_SIG_VERIFIED, NULL);
        classic_check(&k1, 1, &c, digest, "127.0.0.1:5055/signed/child", &res);
        assert_outcome(&res, BP_SIG_OTHER_DIGEST, NULL);
        classic_done(&c);
        /* skopeo copy --all: the index and each child, its docker-reference with the tag. */
        classic_load("skopeo", "sig-manifest.json", 0, &c);
        classic_check(&k1, 1, &c, digest, "127.0.0.1:5055/signed/skopeo", &res);
        assert_outcome(&res, BP_SIG_VERIFIED, NULL);
        classic_check(&k1, 1, &c, digest, APP, &res);
        assert_outcome(&res, BP_SIG_OTHER_IMAGE, NULL);
        classic_done(&c);
        classic_load("skopeo", "sig-manifest-arm64.json", 0, &c);
        classic_check(&k1, 1, &c, arm64, "127.0.0.1:5055/signed/skopeo:2", &res);
        assert_outcome(&res, BP_SIG_VERIFIED, NULL);
        classic_done(&c);
        free(digest);
        free(arm64);
        verify_key_free(k1);
}

/* Signed by key1, then by key2: either key alone verifies one layer of the two. */
static void classic_rotated(void **state)
{
        struct bp_key *k1 = key("key1.pub"), *k2 = key("key2.pub");
        struct bp_key *lists[2] = { k1, k2 };
        char *digest = fx_line("index-digest");

        (void) state;
        for (size_t which = 0; which < 2; which++) {
                struct bp_sig_result res[2];
                size_t at = 9;

                for (size_t layer = 0; layer < 2; layer++) {
                        struct classic c = { 0 };

                        classic_load("rotated", "sig-manifest.json", layer, &c);
                        classic_check(&lists[which], 1, &c, digest, "127.0.0.1:5055/signed/rotated", &res[layer]);
                        classic_done(&c);
                }
                assert_true(verify_any(res, 2, &at));
                assert_int_equal(at, which);
                assert_int_equal(res[1 - which].outcome, BP_SIG_UNKNOWN_KEY);
                assert_string_equal(res[which].key_fp, verify_key_fingerprint(lists[which]));
        }
        free(digest);
        verify_key_free(k1);
        verify_key_free(k2);
}

/* The bundle's blob, found as cosign 2.5 left it: referrers tag -> manifest -> layer. */
static char *bundle_blob(const char *dir, size_t *len)
{
        struct bp_sig_list refs = { 0 }, layers = { 0 };
        struct bp_err err = { 0 };
        char rel[256], d[REF_DIGEST_MAX], *text, *blob;
        size_t n;

        snprintf(rel, sizeof(rel), "%s/referrers.json", dir);
        text = fx(rel, &n);
        if (verify_referrers_parse(text, n, &refs, &err) != 0)
                fail_msg("%s: %s", rel, err.msg);
        free(text);
        assert_int_equal(refs.n, 1);
        snprintf(rel, sizeof(rel), "%s/bundle-manifest.json", dir);
        text = fx(rel, &n);
        sha256_hex(text, n, d);
        assert_string_equal(d, refs.desc[0].digest);
        assert_int_equal(n, refs.desc[0].size);
        if (verify_sig_manifest_parse(text, n, VERIFY_BUNDLE_TYPE, &layers, &err) != 0)
                fail_msg("%s: %s", rel, err.msg);
        free(text);
        assert_int_equal(layers.n, 1);
        assert_null(layers.desc[0].signature);
        snprintf(rel, sizeof(rel), "%s/sha256-%s", dir, layers.desc[0].digest + 7);
        blob = fx(rel, len);
        sha256_hex(blob, *len, d);
        assert_string_equal(d, layers.desc[0].digest);
        verify_sig_list_done(&refs);
        verify_sig_list_done(&layers);
        return blob;
}

static enum bp_sig_outcome bundle_check(struct bp_key *const *keys, size_t n, const char *blob, size_t len,
                                        const char *digest, struct bp_sig_result *res)
{
        struct bp_err err = { 0 };

        if (verify_bundle(keys, n, blob, len, digest, res, &err) != 0)
                fail_msg("verify_bundle: %s", err.msg);
        assert_int_equal(res->format, BP_SIG_BUNDLE);
        assert_null(strchr(res->reason, '\n'));
        return res->outcome;
}

static void bundle_cosign(void **state)
{
        struct bp_key *k1 = key("key1.pub"), *k2 = key("key2.pub");
        struct bp_sig_result res;
        char *digest = fx_line("index-digest"), *arm64 = fx_line("arm64-digest"), *blob;
        size_t len;

        (void) state;
        blob = bundle_blob("bundle", &len);
        bundle_check(&k1, 1, blob, len, digest, &res);
        assert_outcome(&res, BP_SIG_VERIFIED, NULL);
        assert_string_equal(res.key_fp, verify_key_fingerprint(k1));
        assert_string_equal(res.signed_digest, digest);
        /* An unlisted key: the bundle's hint names the key that signed. */
        bundle_check(&k2, 1, blob, len, digest, &res);
        assert_outcome(&res, BP_SIG_UNKNOWN_KEY, NULL);
        assert_string_equal(res.key_fp, verify_key_fingerprint(k1));
        /* A valid signature over another digest. */
        bundle_check(&k1, 1, blob, len, arm64, &res);
        assert_outcome(&res, BP_SIG_OTHER_DIGEST, NULL);
        free(blob);
        /* The same key's provenance attestation is no approval to run. */
        blob = bundle_blob("bundle-provenance", &len);
        bundle_check(&k1, 1, blob, len, digest, &res);
        assert_outcome(&res, BP_SIG_NOT_APPROVAL, "https://slsa.dev/provenance/v1");
        free(blob);
        free(digest);
        free(arm64);
        verify_key_free(k1);
        verify_key_free(k2);
}

/* s with the first `from` replaced by `to`; owned. */
static char *replace(const char *s, const char *from, const char *to)
{
        const char *at = strstr(s, from);
        char *out;

        assert_non_null(at);
        out = malloc(strlen(s) + strlen(to) + 1);
        assert_non_null(out);
        sprintf(out, "%.*s%s%s", (int) (at - s), s, to, at + strlen(from));
        return out;
}

/* The JSON string value of "key" in s (the first one), owned. */
static char *field(const char *s, const char *key)
{
        char pat[64];
        const char *at, *end;

        snprintf(pat, sizeof(pat), "\"%s\":\"", key);
        at = strstr(s, pat);
        assert_non_null(at);
        at += strlen(pat);
        end = strchr(at, '"');
        return strndup(at, (size_t) (end - at));
}

/* base64 text with one bit of its decoded byte i flipped. */
static char *flip_b64(const char *text, size_t i)
{
        unsigned char raw[8192];
        size_t n = unb64(text, raw);

        assert_true(n > i);
        raw[i] ^= 1;
        return b64(raw, n);
}

static void bundle_hostile(void **state)
{
        struct bp_key *k1 = key("key1.pub");
        struct bp_sig_result res;
        char *digest = fx_line("index-digest"), *blob, *bad, *payload, *sig, *flipped;
        size_t len;

        (void) state;
        blob = bundle_blob("bundle", &len);
        /* A flipped byte in the DSSE payloadType: covered by the PAE, so the signature fails, and the
         * bundle's hint says the listed key should have verified it. */
        bad = replace(blob, "application/vnd.in-toto+json", "application/vnd.in-toto+jsoN");
        bundle_check(&k1, 1, bad, strlen(bad), digest, &res);
        assert_outcome(&res, BP_SIG_INVALID, "whose signature does not verify");
        free(bad);
        /* A flipped byte in the statement. */
        payload = field(blob, "payload");
        flipped = flip_b64(payload, 100);
        bad = replace(blob, payload, flipped);
        bundle_check(&k1, 1, bad, strlen(bad), digest, &res);
        assert_outcome(&res, BP_SIG_INVALID, "does not verify");
        free(bad);
        free(flipped);
        /* A flipped byte in the signature, and a truncated one. */
        sig = field(blob, "sig");
        flipped = flip_b64(sig, 20);
        bad = replace(blob, sig, flipped);
        bundle_check(&k1, 1, bad, strlen(bad), digest, &res);
        assert_outcome(&res, BP_SIG_INVALID, NULL);
        free(bad);
        free(flipped);
        bad = replace(blob, sig, "MEUCIQCFbia54uu0Wyu35C5TfHoKsQ1bJET/pGIX+poypzsvbA==");
        bundle_check(&k1, 1, bad, strlen(bad), digest, &res);
        assert_outcome(&res, BP_SIG_INVALID, NULL);
        free(bad);
        /* Not a bundle, or not one of ours. */
        bad = replace(blob, "bundle.v0.3+json", "bundle.v9.9+json");
        bundle_check(&k1, 1, bad, strlen(bad), digest, &res);
        assert_outcome(&res, BP_SIG_INVALID, "mediaType");
        free(bad);
        bad = replace(blob, "\"dsseEnvelope\"", "\"messageSignature\"");
        bundle_check(&k1, 1, bad, strlen(bad), digest, &res);
        assert_outcome(&res, BP_SIG_INVALID, "message signature");
        free(bad);
        bundle_check(&k1, 1, "{\"mediaType\":1}", 15, digest, &res);
        assert_outcome(&res, BP_SIG_INVALID, NULL);
        bundle_check(&k1, 1, "[]", 2, digest, &res);
        assert_outcome(&res, BP_SIG_INVALID, NULL);
        {
                size_t big = VERIFY_DOC_MAX_BYTES + 10;
                char *huge = malloc(big);

                memset(huge, ' ', big);
                memcpy(huge, blob, len);
                bundle_check(&k1, 1, huge, big, digest, &res);
                assert_outcome(&res, BP_SIG_INVALID, NULL);
                free(huge);
        }
        /* The original still verifies: each refusal above was for its one change. */
        bundle_check(&k1, 1, blob, len, digest, &res);
        assert_outcome(&res, BP_SIG_VERIFIED, NULL);
        free(payload);
        free(sig);
        free(blob);
        free(digest);
        verify_key_free(k1);
}

/* A key made here, and its signatures: for payloads no signer in the fixtures wrote. */
struct signer {
        EVP_PKEY *pkey;
        struct bp_key *key;
};

static void signer_make(struct signer *s, const char *type)
{
        BIO *bio = BIO_new(BIO_s_mem());
        char *pem;
        long n;

        s->pkey = strcmp(type, "ED25519") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                                               : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        assert_non_null(s->pkey);
        assert_int_equal(PEM_write_bio_PUBKEY(bio, s->pkey), 1);
        n = BIO_get_mem_data(bio, &pem);
        s->key = key_text(type, pem, (size_t) n);
        BIO_free(bio);
}

static void signer_done(struct signer *s)
{
        EVP_PKEY_free(s->pkey);
        verify_key_free(s->key);
}

static char *sign_b64(const struct signer *s, const void *msg, size_t len)
{
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char sig[256];
        size_t n = sizeof(sig);
        bool ed = EVP_PKEY_get_base_id(s->pkey) == EVP_PKEY_ED25519;

        assert_int_equal(EVP_DigestSignInit(ctx, NULL, ed ? NULL : EVP_sha256(), NULL, s->pkey), 1);
        assert_int_equal(EVP_DigestSign(ctx, sig, &n, msg, len), 1);
        EVP_MD_CTX_free(ctx);
        return b64(sig, n);
}

static enum bp_sig_outcome simple_signed(const struct signer *s, const char *payload, const char *digest,
                                         const char *repo, struct bp_sig_result *res)
{
        struct classic c = { .blob = (char *) payload, .len = strlen(payload) };
        enum bp_sig_outcome o;

        sha256_hex(payload, c.len, c.digest);
        c.sig = sign_b64(s, payload, c.len);
        o = classic_check(&s->key, 1, &c, digest, repo, res);
        free(c.sig);
        return o;
}

#define D1 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void simplesigning_payloads(void **state)
{
        static const struct {
                const char *docker_ref, *repo;
                enum bp_sig_outcome want;
        } names[] = {
                { "index.docker.io/library/nginx", "nginx:1.25", BP_SIG_VERIFIED },
                { "registry-1.docker.io/nginx", "docker.io/library/nginx", BP_SIG_VERIFIED },
                { "docker.io/nginx:latest", "index.docker.io/library/nginx@" D1, BP_SIG_VERIFIED },
                { "docker.io/vaultwarden/server", "vaultwarden/server:1.30.5", BP_SIG_VERIFIED },
                { "registry-1.docker.io/vaultwarden/server", "vaultwarden/server", BP_SIG_VERIFIED },
                { "ghcr.io/library/nginx", "nginx", BP_SIG_OTHER_IMAGE },
                { "docker.io/library/nginx", "nginx/nginx", BP_SIG_OTHER_IMAGE },
                { "quay.io/x/y", "quay.io/x/y/z", BP_SIG_OTHER_IMAGE },
                { "not a name", "nginx", BP_SIG_INVALID },
        };
        struct signer s;
        struct bp_sig_result res;
        char payload[512];

        (void) state;
        signer_make(&s, "EC");
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(payload, sizeof(payload),
                         "{\"critical\":{\"identity\":{\"docker-reference\":\"%s\"},\"image\":{\"docker-manifest-"
                         "digest\":\"" D1 "\"},\"type\":\"cosign container image signature\"},\"optional\":null}",
                         names[i].docker_ref);
                simple_signed(&s, payload, D1, names[i].repo, &res);
                if (res.outcome != names[i].want)
                        fail_msg("%s vs %s: %d (%s)", names[i].docker_ref, names[i].repo, res.outcome, res.reason);
        }
        /* Signed, but not what cosign signs. */
        simple_signed(&s,
                      "{\"critical\":{\"identity\":{\"docker-reference\":\"nginx\"},\"image\":{\"docker-manifest-"
                      "digest\":\"" D1 "\"},\"type\":\"atomic container signature\"}}",
                      D1, "nginx", &res);
        assert_outcome(&res, BP_SIG_INVALID, "critical.type");
        simple_signed(&s,
                      "{\"critical\":{\"image\":{\"docker-manifest-digest\":\"" D1
                      "\"},\"type\":\"cosign container image signature\"}}",
                      D1, "nginx", &res);
        assert_outcome(&res, BP_SIG_INVALID, "docker-reference");
        simple_signed(&s,
                      "{\"critical\":{\"identity\":{\"docker-reference\":\"nginx\"},\"image\":{\"docker-manifest-"
                      "digest\":\"sha512:00\"},\"type\":\"cosign container image signature\"}}",
                      D1, "nginx", &res);
        assert_outcome(&res, BP_SIG_INVALID, "docker-manifest-digest");
        simple_signed(&s, "{\"critical\":1}", D1, "nginx", &res);
        assert_outcome(&res, BP_SIG_INVALID, NULL);
        simple_signed(&s, "{\"critical\":{}} trailing", D1, "nginx", &res);
        assert_outcome(&res, BP_SIG_INVALID, NULL);
        simple_signed(&s, "not json", D1, "nginx", &res);
        assert_outcome(&res, BP_SIG_INVALID, NULL);
        signer_done(&s);
}

/* A v0.3 bundle holding one DSSE envelope over statement, signed by s. */
static char *dsse_bundle(const struct signer *s, const char *payload_type, const char *statement)
{
        char *pae, *sig, *body, *out;
        size_t n = strlen(statement), plen;

        pae = malloc(n + 256);
        plen = (size_t) sprintf(pae, "DSSEv1 %zu %s %zu ", strlen(payload_type), payload_type, n);
        memcpy(pae + plen, statement, n);
        sig = sign_b64(s, pae, plen + n);
        body = b64(statement, n);
        out = malloc(strlen(body) + strlen(sig) + 512);
        sprintf(out,
                "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"verificationMaterial\":"
                "{\"publicKey\":{\"hint\":\"x\"}},\"dsseEnvelope\":{\"payload\":\"%s\",\"payloadType\":\"%s\","
                "\"signatures\":[{\"sig\":\"%s\",\"keyid\":\"\"}]}}",
                body, payload_type, sig);
        free(pae);
        free(sig);
        free(body);
        return out;
}

static void bundle_statements(void **state)
{
        struct signer ec, ed;
        struct bp_sig_result res;
        const char *hex = D1 + 7;
        char st[1024], *b;

        (void) state;
        signer_make(&ec, "EC");
        signer_make(&ed, "ED25519");
        /* v0.1 as cosign 2.5 writes it, v1 as cosign 3 does, without a predicate as 3.0.0 to 3.0.4 do. */
        for (int v = 0; v < 2; v++) {
                snprintf(st, sizeof(st),
                         "{\"_type\":\"https://in-toto.io/Statement/%s\",\"subject\":[{\"name\":\"x\",\"digest\":"
                         "{\"sha512\":\"00\"}},{\"digest\":{\"sha256\":\"%s\"}}],\"predicateType\":"
                         "\"https://sigstore.dev/cosign/sign/v1\"}",
                         v ? "v1" : "v0.1", hex);
                b = dsse_bundle(v ? &ed : &ec, "application/vnd.in-toto+json", st);
                bundle_check(v ? &ed.key : &ec.key, 1, b, strlen(b), D1, &res);
                assert_outcome(&res, BP_SIG_VERIFIED, NULL);
                assert_string_equal(res.signed_digest, D1);
                /* The unlisted key's hint is no fingerprint: none is named. */
                bundle_check(v ? &ec.key : &ed.key, 1, b, strlen(b), D1, &res);
                assert_outcome(&res, BP_SIG_UNKNOWN_KEY, NULL);
                assert_string_equal(res.key_fp, "");
                free(b);
        }
        /* Signed, but refused: another payload type, another statement type, no subject, a subject of
         * another algorithm only, the predicate type missing. */
        snprintf(st, sizeof(st),
                 "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{\"sha256\":\"%s\"}}],"
                 "\"predicateType\":\"https://sigstore.dev/cosign/sign/v1\"}",
                 hex);
        b = dsse_bundle(&ec, "text/plain", st);
        bundle_check(&ec.key, 1, b, strlen(b), D1, &res);
        assert_outcome(&res, BP_SIG_INVALID, "payloadType");
        free(b);
        b = dsse_bundle(&ec, "application/vnd.in-toto+json",
                        "{\"_type\":\"https://in-toto.io/Statement/v2\",\"subject\":[],\"predicateType\":"
                        "\"https://sigstore.dev/cosign/sign/v1\"}");
        bundle_check(&ec.key, 1, b, strlen(b), D1, &res);
        assert_outcome(&res, BP_SIG_INVALID, "in-toto Statement");
        free(b);
        b = dsse_bundle(&ec, "application/vnd.in-toto+json",
                        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[],\"predicateType\":"
                        "\"https://sigstore.dev/cosign/sign/v1\"}");
        bundle_check(&ec.key, 1, b, strlen(b), D1, &res);
        assert_outcome(&res, BP_SIG_INVALID, "no subject");
        free(b);
        b = dsse_bundle(
                &ec, "application/vnd.in-toto+json",
                "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{\"sha512\":\"ab\"}}],"
                "\"predicateType\":\"https://sigstore.dev/cosign/sign/v1\"}");
        bundle_check(&ec.key, 1, b, strlen(b), D1, &res);
        assert_outcome(&res, BP_SIG_OTHER_DIGEST, "no sha256 digest");
        free(b);
        snprintf(st, sizeof(st),
                 "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{\"sha256\":\"%s\"}}]}",
                 hex);
        b = dsse_bundle(&ec, "application/vnd.in-toto+json", st);
        bundle_check(&ec.key, 1, b, strlen(b), D1, &res);
        assert_outcome(&res, BP_SIG_NOT_APPROVAL, "(none)");
        free(b);
        signer_done(&ec);
        signer_done(&ed);
}

/* Keyless bundles published by sigstore-go: reported as keyless, and with the certificate's key given
 * as if listed, the signature and the statement's shape are checked (an SLSA provenance: no approval). */
static void bundle_wild(void **state)
{
        static const char *const files[] = { "wild/sigstore-go-dsse.sigstore.json",
                                             "wild/sigstore-go-dsse-2sigs.sigstore.json" };
        struct bp_key *k1 = key("key1.pub"), *signer = key("wild/sigstore-go-signer.pub");
        struct bp_sig_result res;

        (void) state;
        for (size_t i = 0; i < 2; i++) {
                size_t len;
                char *b = fx(files[i], &len);

                bundle_check(&k1, 0, b, len, D1, &res);
                assert_outcome(&res, BP_SIG_KEYLESS, "keyless");
                bundle_check(&k1, 1, b, len, D1, &res);
                assert_outcome(&res, BP_SIG_KEYLESS, NULL);
                bundle_check(&signer, 1, b, len, D1, &res);
                assert_outcome(&res, BP_SIG_NOT_APPROVAL, "https://slsa.dev/provenance/v0.2");
                assert_string_equal(res.key_fp, verify_key_fingerprint(signer));
                free(b);
        }
        verify_key_free(k1);
        verify_key_free(signer);
}

static int referrers(const char *text, struct bp_sig_list *l, struct bp_err *err)
{
        memset(l, 0, sizeof(*l));
        return verify_referrers_parse(text, strlen(text), l, err);
}

/* An index of n entries of artifactType type (size bytes each). */
static char *index_of(size_t n, const char *type, long size, const char *annotations)
{
        size_t cap = 256 + n * 512;
        char *s = malloc(cap);
        size_t at = (size_t) sprintf(
                s, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                   "\"manifests\":[");

        for (size_t i = 0; i < n; i++)
                at += (size_t) sprintf(s + at,
                                       "%s{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":"
                                       "\"sha256:%064zx\",\"size\":%ld,\"artifactType\":\"%s\"%s}",
                                       i ? "," : "", i, size, type, annotations);
        sprintf(s + at, "]}");
        return s;
}

static void referrers_limits(void **state)
{
        struct bp_sig_list l;
        struct bp_err err = { 0 };
        char *s, *mixed;

        (void) state;
        s = index_of(16, VERIFY_BUNDLE_TYPE, 900, "");
        assert_int_equal(referrers(s, &l, &err), 0);
        assert_int_equal(l.n, 16);
        assert_int_equal(l.desc[15].size, 900);
        verify_sig_list_done(&l);
        free(s);
        s = index_of(17, VERIFY_BUNDLE_TYPE, 900, "");
        assert_int_equal(referrers(s, &l, &err), -E2BIG);
        assert_non_null(strstr(err.msg, "more than 16"));
        free(s);
        s = index_of(100, VERIFY_BUNDLE_TYPE, 900, "");
        assert_int_equal(referrers(s, &l, &err), -E2BIG);
        assert_null(l.desc);
        free(s);
        /* Many attestations of other kinds are left out before counting. */
        s = index_of(100, "application/spdx+json", 900, "");
        assert_int_equal(referrers(s, &l, &err), 0);
        assert_int_equal(l.n, 0);
        assert_int_equal(l.skipped, 100);
        free(s);
        s = index_of(100, VERIFY_BUNDLE_TYPE, 900,
                     ",\"annotations\":{\"dev.sigstore.bundle.predicateType\":\"https://slsa.dev/provenance/v1\"}");
        assert_int_equal(referrers(s, &l, &err), 0);
        assert_int_equal(l.n, 0);
        free(s);
        mixed = index_of(
                3, VERIFY_BUNDLE_TYPE, 900,
                ",\"annotations\":{\"dev.sigstore.bundle.predicateType\":\"https://sigstore.dev/cosign/sign/v1\"}");
        assert_int_equal(referrers(mixed, &l, &err), 0);
        assert_int_equal(l.n, 3);
        verify_sig_list_done(&l);
        free(mixed);
        /* Capped like any other manifest, whatever it lists. */
        s = index_of(25000, "application/spdx+json", 900, "");
        assert_true(strlen(s) > 4 * 1024 * 1024);
        assert_int_equal(referrers(s, &l, &err), -EFBIG);
        free(s);
        /* A referrer past the size of a signature. */
        s = index_of(1, VERIFY_BUNDLE_TYPE, 65537, "");
        assert_int_equal(referrers(s, &l, &err), -E2BIG);
        assert_non_null(strstr(err.msg, "65537 bytes"));
        free(s);
        s = index_of(1, VERIFY_BUNDLE_TYPE, -1, "");
        assert_int_equal(referrers(s, &l, &err), -EINVAL);
        free(s);
        assert_int_equal(referrers("{\"manifests\":{}}", &l, &err), -EINVAL);
        assert_int_equal(referrers("{\"schemaVersion\":2}", &l, &err), -EINVAL);
        assert_int_equal(referrers("{\"manifests\":[1]}", &l, &err), -EINVAL);
        assert_int_equal(referrers("{\"manifests\":[{\"artifactType\":\"" VERIFY_BUNDLE_TYPE
                                   "\",\"digest\":\"sha256:00\",\"size\":1}]}",
                                   &l, &err),
                         -EINVAL);
        assert_int_equal(referrers("{\"manifests\":[{\"artifactType\":\"" VERIFY_BUNDLE_TYPE "\",\"digest\":\"" D1
                                   "\",\"size\":1.5}]}",
                                   &l, &err),
                         -EINVAL);
        assert_int_equal(referrers("{\"manifests\":[]}", &l, &err), 0);
        assert_int_equal(l.n, 0);
}

static void sig_manifest_limits(void **state)
{
        struct bp_sig_list l = { 0 };
        struct bp_err err = { 0 };
        const char *no_sig = "{\"layers\":[{\"mediaType\":\"" VERIFY_SIMPLESIGNING_TYPE "\",\"digest\":\"" D1
                             "\",\"size\":241}]}";
        /* A 100 MB signature blob is refused from its descriptor, before a byte of it is fetched. */
        const char *huge =
                "{\"layers\":[{\"mediaType\":\"" VERIFY_SIMPLESIGNING_TYPE "\",\"digest\":\"" D1
                "\",\"size\":100000000,\"annotations\":{\"" VERIFY_SIGNATURE_ANNOTATION "\":\"AAAA\"}}]}";

        (void) state;
        assert_int_equal(verify_sig_manifest_parse(no_sig, strlen(no_sig), VERIFY_SIMPLESIGNING_TYPE, &l, &err),
                         -EINVAL);
        assert_non_null(strstr(err.msg, VERIFY_SIGNATURE_ANNOTATION));
        assert_int_equal(verify_sig_manifest_parse(huge, strlen(huge), VERIFY_SIMPLESIGNING_TYPE, &l, &err),
                         -E2BIG);
        assert_non_null(strstr(err.msg, "100000000 bytes"));
        /* A bundle manifest's layer carries no signature annotation. */
        assert_int_equal(verify_sig_manifest_parse(no_sig, strlen(no_sig), VERIFY_BUNDLE_TYPE, &l, &err), 0);
        assert_int_equal(l.n, 0);
        assert_int_equal(l.skipped, 1);
}

static void summary(void **state)
{
        struct bp_key *k2 = key("key2.pub"), *k1 = key("key1.pub");
        struct bp_sig_result res[3];
        char *digest = fx_line("index-digest"), *blob, *wild, buf[512], want[512], sig_part[160];
        size_t len, wlen;

        (void) state;
        /* The digest is shortened to sha256: and 12 hex digits. */
        snprintf(want, sizeof(want), "%.19s… is not signed by a trusted key (no signatures found)", digest);
        assert_string_equal(verify_summary(digest, res, 0, buf, sizeof(buf)), want);
        blob = bundle_blob("bundle", &len);
        wild = fx("wild/sigstore-go-dsse.sigstore.json", &wlen);
        bundle_check(&k2, 1, blob, len, digest, &res[0]);
        bundle_check(&k2, 1, wild, wlen, digest, &res[1]);
        snprintf(want, sizeof(want),
                 "%.19s… is not signed by a trusted key (2 signatures found: 1 by an unknown key %s, 1 keyless)",
                 digest, verify_key_fingerprint(k1));
        assert_string_equal(verify_summary(digest, res, 2, buf, sizeof(buf)), want);
        bundle_check(&k1, 1, blob, len,
                     "sha256:"
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                     &res[2]);
        verify_summary("sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", res, 3, buf,
                       sizeof(buf));
        assert_non_null(strstr(buf, "(3 signatures found: 1 by an unknown key SHA256:"));
        snprintf(sig_part, sizeof(sig_part), ", 1 keyless, 1 over another digest: signs %s", digest);
        assert_non_null(strstr(buf, sig_part));
        bundle_check(&k1, 1, blob, len, digest, &res[2]);
        snprintf(want, sizeof(want), "%.19s… is signed by %s (bundle)", digest, verify_key_fingerprint(k1));
        assert_string_equal(verify_summary(digest, res, 3, buf, sizeof(buf)), want);
        /* A small buffer is cut, never overrun, and says so. */
        bundle_check(&k2, 1, blob, len, digest, &res[2]);
        verify_summary(digest, res, 3, buf, 40);
        assert_int_equal(strlen(buf), 39);
        assert_memory_equal(buf + 36, "…", 3);
        free(blob);
        free(wild);
        free(digest);
        verify_key_free(k1);
        verify_key_free(k2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(keys_accepted),
                cmocka_unit_test(key_fingerprint_matches_cosign),
                cmocka_unit_test(keys_refused),
                cmocka_unit_test_setup_teardown(key_files, scratch_setup, scratch_teardown),
                cmocka_unit_test(key_types_verify),
                cmocka_unit_test(classic_index),
                cmocka_unit_test(classic_hostile),
                cmocka_unit_test(classic_child_and_skopeo),
                cmocka_unit_test(classic_rotated),
                cmocka_unit_test(bundle_cosign),
                cmocka_unit_test(bundle_hostile),
                cmocka_unit_test(simplesigning_payloads),
                cmocka_unit_test(bundle_statements),
                cmocka_unit_test(bundle_wild),
                cmocka_unit_test(referrers_limits),
                cmocka_unit_test(sig_manifest_limits),
                cmocka_unit_test(summary),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
