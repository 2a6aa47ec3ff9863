/* agent/age.c: see age.h. Calendar arithmetic is done by hand (days from civil date, Howard Hinnant's
 * algorithm): timegm() is a GNU extension that depends on TZ handling, and mktime() on the local zone. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "age.h"
#include "text.h"

int age_parse_duration(const char *s, int64_t *ret_s, struct bp_err *err)
{
        static const struct {
                char unit;
                int64_t seconds;
        } units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 } };
        char num[16];
        size_t n = strlen(s);
        unsigned long long v;

        if (strcmp(s, "0") == 0) {
                *ret_s = 0;
                return 0;
        }
        if (n < 2 || n > sizeof(num))
                return bp_fail(err, -EINVAL, "'%.32s' is not a duration such as 12h or 3d", s);
        memcpy(num, s, n - 1);
        num[n - 1] = '\0';
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (s[n - 1] != units[i].unit)
                        continue;
                if (text_parse_u64(num, 10, (unsigned long long) (AGE_MAX_S / units[i].seconds), &v) < 0)
                        break;
                *ret_s = (int64_t) v * units[i].seconds;
                return 0;
        }
        return bp_fail(err, -EINVAL, "'%.32s' is not a duration from 0 to 366d, such as 12h or 3d", s);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
        int64_t era;
        unsigned yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = (unsigned) (y - era * 400);
        doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

static bool digits(const char *s, size_t n, unsigned *ret)
{
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        *ret = v;
        return true;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
        static const unsigned days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        return days[m - 1] + (m == 2 && leap);
}

/* "Z", "+hh:mm" or "-hh:mm" at s: the offset east of UTC in seconds. */
static int parse_zone(const char *s, int64_t *ret)
{
        unsigned hh, mm;

        if (strcmp(s, "Z") == 0 || strcmp(s, "z") == 0) {
                *ret = 0;
                return 0;
        }
        if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':' || !digits(s + 1, 2, &hh) ||
            !digits(s + 4, 2, &mm) || hh > 23 || mm > 59)
                return -EINVAL;
        *ret = (s[0] == '-' ? -1 : 1) * (int64_t) (hh * 3600 + mm * 60);
        return 0;
}

int age_parse_created(const char *s, int64_t *ret_epoch)
{
        unsigned y, mo, d, h, mi, sec;
        const char *p = s + 19;
        int64_t zone;

        if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
            s[16] != ':' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
            !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
                return -EINVAL;
        if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
                return -EINVAL;
        if (*p == '.') {                        /* Go writes up to nine digits of fraction */
                size_t n = strspn(p + 1, "0123456789");
                if (n == 0 || n > 9)
                        return -EINVAL;
                p += 1 + n;
        }
        if (parse_zone(p, &zone) < 0)
                return -EINVAL;
        *ret_epoch = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
        return 0;
}

enum age_verdict age_check(const char *created, int64_t now, int64_t min_age_s, int64_t *ret_age_s)
{
        int64_t t;

        *ret_age_s = 0;
        if (!created || !*created || age_parse_created(created, &t) < 0 || t > now)
                return min_age_s == 0 ? AGE_OLD_ENOUGH : AGE_UNKNOWN;
        *ret_age_s = now - t;
        return now - t >= min_age_s ? AGE_OLD_ENOUGH : AGE_TOO_YOUNG;
}
