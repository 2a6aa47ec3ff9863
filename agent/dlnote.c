/* agent/dlnote.c: the libraries agent/dl.c loads with dlopen(), declared as ELF .note.dlopen notes in
 * the format systemd uses (docs/ELF_DLOPEN_METADATA.md; its dlfcn-util.h ELF_NOTE_DLOPEN): a note of
 * type 0x407c0c0a, owner "FDO", whose descriptor is a JSON list. dlopen() leaves no DT_NEEDED, so
 * without the notes neither dpkg-shlibdeps nor a person with readelf can see them;
 * tests/packaging/run.sh checks that debian/control depends on a package for each soname here. Keep
 * it in step with dl.c. */
#include <stdint.h>

#define DLNOTE_OWNER "FDO"
#define DLNOTE_TYPE UINT32_C(0x407c0c0a)

/* One note: the ELF note header, the owner and the JSON, each padded to 4 bytes. */
#define DLNOTE(var, text)                                                                \
        __attribute__((used, section(".note.dlopen"))) _Alignas(4) static const struct { \
                struct {                                                                 \
                        uint32_t n_namesz, n_descsz, n_type;                             \
                } nhdr;                                                                  \
                char name[sizeof(DLNOTE_OWNER)];                                         \
                _Alignas(4) char json[sizeof(text)];                                     \
        } var = {                                                                        \
                .nhdr = { sizeof(DLNOTE_OWNER), sizeof(text), DLNOTE_TYPE },             \
                .name = DLNOTE_OWNER,                                                    \
                .json = text,                                                            \
        }

/* "recommended": boot from the lock works without them; resolving does not. */
DLNOTE(dlnote_curl, "[{\"feature\":\"registry\",\"description\":\"Talk to container registries (HTTPS)\","
                    "\"priority\":\"recommended\",\"soname\":[\"libcurl.so.4\"]}]");
DLNOTE(dlnote_crypto,
       "[{\"feature\":\"digest\",\"description\":\"Check manifest digests (SHA-256) and image signatures\","
       "\"priority\":\"recommended\",\"soname\":[\"libcrypto.so.3\"]}]");
/* "recommended": `upgrade` restarts the units of a service over D-Bus (agent/units.c) with it. */
DLNOTE(dlnote_systemd, "[{\"feature\":\"units\",\"description\":\"Restart systemd units over D-Bus (sd-bus)\","
                       "\"priority\":\"recommended\",\"soname\":[\"libsystemd.so.0\"]}]");
