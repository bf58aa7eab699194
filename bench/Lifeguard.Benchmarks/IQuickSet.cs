namespace Lifeguard.Benchmarks;

/// <summary>
/// A set of quick benchmarks run by <c>-- quick &lt;name&gt;</c>: a short, self-timed run that compares subjects with
/// their baselines in the same process and prints one JSON object per comparison as its last output lines.
/// </summary>
internal interface IQuickSet
{
    /// <summary>The name on the command line.</summary>
    string Name { get; }

    /// <summary>One line of help for the usage message.</summary>
    string Description { get; }

    /// <summary>Runs the set, writing the human summary and then the JSON lines to <paramref name="output"/>; returns the exit code.</summary>
    Task<int> RunAsync(TextWriter output);

    /// <summary>
    /// Runs only the scenarios named in <paramref name="only"/> (<c>quick &lt;set&gt; NAME[,NAME...]</c>); a set that
    /// cannot pick its scenarios runs them all.
    /// </summary>
    Task<int> RunAsync(TextWriter output, IReadOnlySet<string> only) => RunAsync(output);
}
