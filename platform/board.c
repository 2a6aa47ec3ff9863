/* platform/board.c: see board.h. */
#include "board.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "text.h"

static const struct {
        unsigned code;
        const char *model;
        const char *revision;
} revisions[] = {
#include "revision-codes.inc"
};

/* The table's model column, spelled as the boards' own device trees spell them. */
static const struct {
        const char *code;
        const char *name;
} models[] = {
        { "A", "Model A" },
        { "B", "Model B" },
        { "A+", "Model A Plus" },
        { "B+", "Model B Plus" },
        { "CM1", "Compute Module" },
        { "2B", "2 Model B" },
        { "2B (with BCM2837)", "2 Model B" },
        { "3B", "3 Model B" },
        { "3B+", "3 Model B Plus" },
        { "3A+", "3 Model A Plus" },
        { "CM3", "Compute Module 3" },
        { "CM3+", "Compute Module 3 Plus" },
        { "4B", "4 Model B" },
        { "400", "400" },
        { "CM4", "Compute Module 4" },
        { "Zero", "Zero" },
        { "Zero W", "Zero W" },
        { "Zero 2 W", "Zero 2 W" },
        { "5", "5 Model B" },
        { "500", "500" },
        { "500+", "500+" },
        { "CM5", "Compute Module 5" },
        { "CM5 Lite", "Compute Module 5 Lite" },
};

int board_from_revision(const char *revision, char *buf, size_t size)
{
        unsigned long long v;
        unsigned code;

        if (text_parse_u64(revision, 16, 0xffffffffULL, &v) < 0)
                return -EINVAL;
        /* Bits 24 and up are warranty, OTP and overvoltage flags in both styles; the code is below them. */
        code = (unsigned) (v & 0xffffffu);
        for (size_t i = 0; i < sizeof(revisions) / sizeof(revisions[0]); i++) {
                if (revisions[i].code != code)
                        continue;
                for (size_t j = 0; j < sizeof(models) / sizeof(models[0]); j++)
                        if (strcmp(models[j].code, revisions[i].model) == 0) {
                                (void) snprintf(buf, size, "Raspberry Pi %s Rev %s", models[j].name,
                                                revisions[i].revision);
                                return 0;
                        }
                return -ENOENT;
        }
        return -ENOENT;
}

bool board_hardware_is_pi(const char *hardware)
{
        static const char *const socs[] = { "BCM2708", "BCM2709", "BCM2710", "BCM2711",
                                            "BCM2835", "BCM2836", "BCM2837" };

        for (size_t i = 0; i < sizeof(socs) / sizeof(socs[0]); i++)
                if (strcmp(hardware, socs[i]) == 0)
                        return true;
        return false;
}

bool board_compatible_is_pi(const char *compatible)
{
        return text_has_prefix(compatible, "raspberrypi,");
}

bool board_hardware_is_board(const char *hardware)
{
        /* Board families whose kernels put the board in Hardware; SoC names ("BCM2835", "sun8i",
         * "Qualcomm …", "Generic DT based system") never match. */
        static const char *const families[] = {
                "odroid", "hardkernel", "raspberry pi", "beaglebone", "jetson", "orange pi", "orangepi",
                "banana pi", "bananapi", "nanopi", "pine64", "rock64", "rockpro64", "tinker board",
                "cubieboard", "cubietruck", "wandboard", "udoo", "pandaboard", "olinuxino",
        };

        for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
                if (strcasestr(hardware, families[i]))
                        return true;
        return false;
}

bool board_dmi_is_placeholder(const char *s)
{
        static const char *const junk[] = {
                "", "To Be Filled By O.E.M.", "To be filled by O.E.M.", "System Product Name",
                "System manufacturer", "Default string", "Not Applicable", "None", "O.E.M.",
        };

        for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
                if (strcmp(s, junk[i]) == 0)
                        return true;
        return false;
}
