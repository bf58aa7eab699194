namespace Lifeguard.Python.Build.Internal;

/// <summary>
/// The names taken in one C# scope (a type's members, a method's parameters, a namespace's types): a name asked for
/// twice gets a number the second time (<c>Stats2</c>). Not thread-safe; one per scope being planned.
/// </summary>
internal sealed class NameScope
{
    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);

    public NameScope(params IEnumerable<string> reserved)
    {
        foreach (var name in reserved)
        {
            _taken.Add(name);
        }
    }

    /// <summary>Takes <paramref name="name"/>, or the first free <c>name2</c>, <c>name3</c>...; <paramref name="clashed"/> is told when a number was needed.</summary>
    public string Take(string name, Action<string> clashed)
    {
        if (_taken.Add(Bare(name)))
        {
            return name;
        }

        for (var n = 2; ; n++)
        {
            var numbered = Bare(name) + n.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (_taken.Add(numbered))
            {
                clashed(numbered);
                return numbered;
            }
        }
    }

    private static string Bare(string name) => name.StartsWith('@') ? name[1..] : name;
}
