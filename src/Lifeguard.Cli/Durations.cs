using System.Globalization;
using System.Text.RegularExpressions;

namespace Lifeguard.Cli;

/// <summary>Parses the durations the command accepts: <c>500ms</c>, <c>30s</c>, <c>1.5s</c>, <c>2m</c>, <c>1h</c> or <c>hh:mm:ss</c>. Thread-safe.</summary>
internal static partial class Durations
{
    public const string Accepted = "500ms, 30s, 2m, 1h or hh:mm:ss";

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var match = WithUnit().Match(text.Trim());
        if (match.Success)
        {
            double amount = double.Parse(match.Groups["amount"].Value, NumberStyles.Float, CultureInfo.InvariantCulture);
            double seconds = match.Groups["unit"].Value switch
            {
                "ms" => amount / 1000,
                "s" => amount,
                "m" => amount * 60,
                _ => amount * 3600,
            };
            if (!double.IsFinite(seconds) || seconds > TimeSpan.MaxValue.TotalSeconds / 2)
            {
                return false;
            }

            value = TimeSpan.FromSeconds(seconds);
            return true;
        }

        return text.Contains(':', StringComparison.Ordinal)
            && TimeSpan.TryParseExact(text.Trim(), [@"hh\:mm\:ss", @"h\:mm\:ss", @"hh\:mm\:ss\.FFFFFFF", @"mm\:ss"], CultureInfo.InvariantCulture, out value)
            && value >= TimeSpan.Zero;
    }

    [GeneratedRegex(@"^(?<amount>[0-9]+(\.[0-9]+)?)(?<unit>ms|s|m|h)$", RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 100)]
    private static partial Regex WithUnit();
}
