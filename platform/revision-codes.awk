# Turns revision-codes.tsv into C table rows: { code, "model", "board revision" },
BEGIN { FS = "\t" }
/^#/ || $1 == "code" || NF < 3 { next }
{ printf "        { 0x%s, \"%s\", \"%s\" },\n", $1, $2, $3 }
