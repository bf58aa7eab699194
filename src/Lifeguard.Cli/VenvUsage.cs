namespace Lifeguard.Cli;

/// <summary>The usage errors <c>--venv</c> shares between <c>run</c> and <c>serve</c>.</summary>
internal static class VenvUsage
{
    public const string BothGiven = "--python and --venv cannot both be given: a virtual environment brings its own interpreter.";
}
