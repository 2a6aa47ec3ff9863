/* agent/result.h: what a command or the flow it runs hands back when it does not return a negative errno.
 * main() maps these to the exit codes of the contract, once (cli.h); the flow returns them too, and may
 * not include the command layer. */
#pragma once

enum bp_result {
        BP_RESULT_OK = 0,  /* all good */
        BP_RESULT_PARTIAL, /* at least one service failed (its previous env kept), or no platform */
        BP_RESULT_USAGE,   /* usage or config error: nothing written */
};
