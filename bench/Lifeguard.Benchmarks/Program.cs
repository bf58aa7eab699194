using BenchmarkDotNet.Running;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>quick &lt;set&gt;</c> runs a quick set (<see cref="QuickRunner"/>); anything else goes to BenchmarkDotNet's
/// switcher, e.g. <c>--filter '*Uncontended*' --job short</c>.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && string.Equals(args[0], "quick", StringComparison.Ordinal))
        {
            return await QuickRunner.RunAsync(args[1..], Console.Out, Console.Error);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
