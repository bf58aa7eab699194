# Adds up the per-assembly result lines of `dotnet test` ("Passed!  - Failed: 0, Passed: 39, Skipped: 0, ...") into
# one plain closing line: "N passed, N failed, N skipped".
/^(Passed|Failed)!/ {
    for (i = 1; i <= NF; i++) {
        if ($i == "Failed:") { f += $(i + 1) + 0 }
        if ($i == "Passed:") { p += $(i + 1) + 0 }
        if ($i == "Skipped:") { s += $(i + 1) + 0 }
    }
}
END { printf "%d passed, %d failed, %d skipped\n", p, f, s }
