/* agent/resolve.h: from an image reference and a board's platform to the one child digest that board runs,
 * verified: the index entry chosen by the platform rules, its manifest and config fetched and their
 * platform checked against the entry (publishers mislabel images). Knows the registry API, not files. */
#pragma once

#include "manifest.h"
#include "ref.h"
#include "registry.h"
#include "resolution.h"
#include "rules.h"

/* Resolve ref for target. prev (may be NULL) is an earlier resolution of the same reference: when the
 * registry's digest for the tag is still prev->index_digest (or prev->digest for a single manifest), one
 * HEAD answers and nothing is fetched; when it moved but this board's child did not, the child is not
 * checked again. On error *ret is untouched and err names the image. */
int resolve_image(struct bp_registry *reg, const struct bp_ref *ref, const struct bp_oci *target,
                  const struct bp_resolution *prev, struct bp_resolution *ret, struct bp_err *err);
