/* tests/bench/noop.c: does nothing. Built twice by bench.py: against libc alone, and against the five
 * libraries boardpin uses, to see what loading them costs before main() runs. */
int main(void)
{
        return 0;
}
