/* platform/board.h: naming a board from what it says of itself: Raspberry Pi revision codes (the table in
 * revision-codes.tsv, from the Raspberry Pi documentation), and whether a cpuinfo "Hardware" line names a
 * board or only its SoC. Pure: no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* "Raspberry Pi 3 Model B Rev 1.2" for "a02082" (also old-style "000e", and codes carrying the warranty
 * or overvoltage bits above bit 23, like "1a01040"). 0, -EINVAL for a malformed code, -ENOENT for a code
 * the table does not have. */
int board_from_revision(const char *revision, char *buf, size_t size);

/* True when a cpuinfo Hardware value is a Raspberry Pi SoC as Raspberry Pi kernels print it: BCM2708,
 * BCM2709, BCM2710, BCM2711 before 4.9, BCM2835 (also BCM2836, BCM2837) since. Only then is a Revision
 * line a Raspberry Pi revision code: other vendors' kernels print their own numbers there. */
bool board_hardware_is_pi(const char *hardware);

/* True when a device-tree compatible entry is one of the raspberrypi vendor's ("raspberrypi,4-model-b"). */
bool board_compatible_is_pi(const char *compatible);

/* True when a cpuinfo Hardware value names a board ("Hardkernel ODROID-XU4", "ODROIDU2") rather than a
 * SoC ("BCM2835", "Allwinner sun8i Family"). */
bool board_hardware_is_board(const char *hardware);

/* True when a DMI product or vendor string is a placeholder firmware left unfilled. */
bool board_dmi_is_placeholder(const char *s);
