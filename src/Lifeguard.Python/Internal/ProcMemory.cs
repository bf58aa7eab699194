using System.Globalization;

namespace Lifeguard.Python;

/// <summary>A process's memory from <c>/proc</c>: resident (RSS) and proportional (PSS). Stateless and thread-safe.</summary>
internal static class ProcMemory
{
    /// <summary>The resident set in bytes (<c>/proc/PID/statm</c>), or null if it cannot be read.</summary>
    public static long? Resident(int pid)
    {
        try
        {
            var fields = File.ReadAllText($"/proc/{pid}/statm").Split(' ');
            return fields.Length > 1 ? long.Parse(fields[1], CultureInfo.InvariantCulture) * Environment.SystemPageSize : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// The proportional set in bytes (<c>Pss:</c> of <c>/proc/PID/smaps_rollup</c>), or null if it cannot be read: a
    /// page shared copy-on-write with a fork server's template and its other workers counts for its share only.
    /// </summary>
    public static long? Proportional(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
            {
                if (line.StartsWith("Pss:", StringComparison.Ordinal))
                {
                    var kib = line.AsSpan(4).Trim();
                    kib = kib.EndsWith("kB", StringComparison.Ordinal) ? kib[..^2].TrimEnd() : kib;
                    return long.Parse(kib, CultureInfo.InvariantCulture) * 1024;
                }
            }

            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
