using System.Text.RegularExpressions;

namespace Lifeguard.Docs.Tests;

/// <summary>How a ```csharp block of the docs is checked, from the marker on the line just before it.</summary>
public enum SnippetKind
{
    /// <summary>No marker: a whole C# file of a console app (the SDK's implicit usings), compiled as it is.</summary>
    Complete,

    /// <summary><c>&lt;!-- snippet: fragment --&gt;</c>: part of an app, compiled with <c>FragmentPrelude.cs</c>.</summary>
    Fragment,

    /// <summary><c>&lt;!-- snippet: run --&gt;</c>: a whole program, compiled as it is and run to its end.</summary>
    Run,
}

/// <summary>One ```csharp block: where it is (<see cref="Line"/> is its opening fence, 1-based) and its code. Immutable.</summary>
public sealed partial record Snippet(string File, int Line, SnippetKind Kind, string Code)
{
    public override string ToString() => $"{File}:{Line}";

    /// <summary>
    /// The ```csharp blocks of a Markdown file, with the problems of its markers: a marker that names no known kind, or
    /// that is not followed at once by a ```csharp block.
    /// </summary>
    public static (IReadOnlyList<Snippet> Snippets, IReadOnlyList<string> Problems) Parse(string file, string markdown)
    {
        var snippets = new List<Snippet>();
        var problems = new List<string>();
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (Marker().Match(line) is { Success: true } marker)
            {
                var next = i + 1 < lines.Length ? lines[i + 1].Trim() : "";
                if (!Enum.TryParse<SnippetKind>(marker.Groups["kind"].Value, ignoreCase: true, out var kind) || kind == SnippetKind.Complete)
                {
                    problems.Add($"{file}:{i + 1}: '{line}' names no snippet kind (fragment, run)");
                }
                else if (next != "```csharp")
                {
                    problems.Add($"{file}:{i + 1}: '{line}' is not followed by a ```csharp block");
                }

                continue;
            }

            if (!line.StartsWith("```", StringComparison.Ordinal))
            {
                continue;
            }

            var fence = i;
            var code = new List<string>();
            for (i++; i < lines.Length && lines[i].Trim() != "```"; i++)
            {
                code.Add(lines[i]);
            }

            if (line == "```csharp")
            {
                var before = fence > 0 ? Marker().Match(lines[fence - 1].Trim()) : Match.Empty;
                var kind = before.Success && Enum.TryParse<SnippetKind>(before.Groups["kind"].Value, ignoreCase: true, out var k) ? k : SnippetKind.Complete;
                snippets.Add(new Snippet(file, fence + 1, kind, string.Join('\n', code)));
            }
        }

        return (snippets, problems);
    }

    [GeneratedRegex(@"^<!--\s*snippet:\s*(?<kind>\S*)\s*-->$")]
    private static partial Regex Marker();
}
