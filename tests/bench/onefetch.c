/* tests/bench/onefetch.c: the smallest libcurl program that does one HTTPS GET: the peak-RSS yardstick
 * for boardpin's registry client. Usage: onefetch URL CAFILE USER:PASSWORD */
#include <curl/curl.h>
#include <stdio.h>

static size_t discard(char *p, size_t size, size_t n, void *u)
{
        (void) p;
        (void) u;
        return size * n;
}

int main(int argc, char **argv)
{
        CURL *c;
        CURLcode r;

        if (argc != 4)
                return 2;
        c = curl_easy_init();
        if (!c)
                return 1;
        curl_easy_setopt(c, CURLOPT_URL, argv[1]);
        curl_easy_setopt(c, CURLOPT_CAINFO, argv[2]);
        curl_easy_setopt(c, CURLOPT_USERPWD, argv[3]);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        r = curl_easy_perform(c);
        curl_easy_cleanup(c);
        return r == CURLE_OK ? 0 : 1;
}
