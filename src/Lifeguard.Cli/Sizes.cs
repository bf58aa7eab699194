using System.Globalization;
using System.Text.RegularExpressions;

namespace Lifeguard.Cli;

/// <summary>Parses the sizes the command accepts: a number of bytes (<c>1048576</c>) or one with a binary unit (<c>512KiB</c>, <c>64MiB</c>, <c>1GiB</c>). Thread-safe.</summary>
internal static partial class Sizes
{
    public const string Accepted = "a number of bytes, or one with KiB, MiB or GiB (512KiB, 64MiB, 1GiB)";

    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        var match = text is null ? Match.Empty : WithUnit().Match(text.Trim());
        if (!match.Success || !decimal.TryParse(match.Groups["amount"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            return false;
        }

        decimal scale = match.Groups["unit"].Value switch
        {
            "" or "B" => 1,
            "KiB" => 1024,
            "MiB" => 1024 * 1024,
            _ => 1024 * 1024 * 1024,
        };
        decimal value = amount * scale;
        if (value != decimal.Truncate(value) || value > long.MaxValue)
        {
            return false;
        }

        bytes = (long)value;
        return true;
    }

    public static string Format(long bytes) => bytes switch
    {
        >= 1024 * 1024 * 1024 when bytes % (1024 * 1024 * 1024) == 0 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024 * 1024 * 1024)} GiB"),
        >= 1024 * 1024 when bytes % (1024 * 1024) == 0 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024 * 1024)} MiB"),
        >= 1024 when bytes % 1024 == 0 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes"),
    };

    [GeneratedRegex(@"^(?<amount>[0-9]{1,19}(\.[0-9]{1,9})?) ?(?<unit>B|KiB|MiB|GiB)?$", RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 100)]
    private static partial Regex WithUnit();
}
