using System.Globalization;
using System.Text;

namespace Lifeguard.Python;

/// <summary>
/// The per-worker part of a worker's environment: <c>{worker}</c> in a value of
/// <see cref="PythonPoolOptions.Environment"/> is the worker's slot (<see cref="WorkerContext.Slot"/>), and
/// <c>{{worker}}</c> the literal text <c>{worker}</c>; nothing else in a value changes. Stateless and thread-safe.
/// </summary>
internal static class WorkerEnvironment
{
    public const string Placeholder = "{worker}";
    private const string Escaped = "{{worker}}";

    /// <summary>Whether <paramref name="value"/> names the slot (holds a <c>{worker}</c> that is not escaped).</summary>
    public static bool UsesSlot(string value) => Expand(value, slot: null) is null;

    /// <summary>
    /// <paramref name="value"/> with each <c>{worker}</c> replaced by <paramref name="slot"/> and each
    /// <c>{{worker}}</c> by <c>{worker}</c>, read left to right; null where it names the slot and there is none (the
    /// fork server's template, which is no worker, gets such a variable unset).
    /// </summary>
    public static string? Expand(string value, int? slot)
    {
        // "{{worker}}" holds "{worker}": a value with neither is returned as it is.
        int next = value.IndexOf(Placeholder, StringComparison.Ordinal);
        if (next < 0)
        {
            return value;
        }

        var result = new StringBuilder(value.Length + 8);
        int done = 0;
        for (int i = Math.Max(0, next - 1); i < value.Length;)
        {
            var rest = value.AsSpan(i);
            if (rest.StartsWith(Escaped, StringComparison.Ordinal))
            {
                result.Append(value, done, i - done).Append(Placeholder);
                i += Escaped.Length;
                done = i;
            }
            else if (rest.StartsWith(Placeholder, StringComparison.Ordinal))
            {
                if (slot is not { } number)
                {
                    return null;
                }

                result.Append(value, done, i - done).Append(number.ToString(CultureInfo.InvariantCulture));
                i += Placeholder.Length;
                done = i;
            }
            else
            {
                i++;
            }
        }

        return result.Append(value, done, value.Length - done).ToString();
    }
}
