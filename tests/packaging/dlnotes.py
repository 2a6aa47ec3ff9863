#!/usr/bin/python3
"""dlnotes.py ELF: the sonames of an ELF file's .note.dlopen notes (systemd's format: type 0x407c0c0a,
owner FDO, a JSON list of objects with a "soname" list), one a line. Reads the section headers itself,
so it works on a binary of any architecture; exits 1 when there are no such notes."""
import json, struct, sys

data = open(sys.argv[1], "rb").read()
if data[:4] != b"\x7fELF":
    sys.exit(f"{sys.argv[1]}: not ELF")
bits64, endian = data[4] == 2, "<" if data[5] == 1 else ">"
if bits64:
    shoff, = struct.unpack_from(endian + "Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", data, 0x3A)
else:
    shoff, = struct.unpack_from(endian + "I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", data, 0x2E)


def section(i):
    off = shoff + i * shentsize
    if bits64:
        name, _, _, _, offset, size = struct.unpack_from(endian + "IIQQQQ", data, off)
    else:
        name, _, _, _, offset, size = struct.unpack_from(endian + "IIIIII", data, off)
    return name, offset, size


_, stroff, _ = section(shstrndx)
sonames = []
for i in range(shnum):
    name, offset, size = section(i)
    if data[stroff + name:data.index(b"\0", stroff + name)] != b".note.dlopen":
        continue
    p, end = offset, offset + size
    while p + 12 <= end:
        namesz, descsz, ntype = struct.unpack_from(endian + "III", data, p)
        owner = data[p + 12:p + 12 + namesz].rstrip(b"\0")
        desc = p + 12 + (namesz + 3) // 4 * 4
        if ntype == 0x407C0C0A and owner == b"FDO":
            for entry in json.loads(data[desc:desc + descsz].rstrip(b"\0")):
                sonames += entry["soname"]
        p = desc + (descsz + 3) // 4 * 4
if not sonames:
    sys.exit(f"{sys.argv[1]}: no .note.dlopen notes")
print("\n".join(sonames))
