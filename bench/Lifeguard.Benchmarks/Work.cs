namespace Lifeguard.Benchmarks;

/// <summary>The unit of work done while a worker is held in the contended scenario.</summary>
internal static class Work
{
    /// <summary>Iterations of <see cref="Spin"/> per pair: roughly 100–150 ns on current x64 cores.</summary>
    public const int SpinIterations = 64;

    /// <summary>A xorshift chain: cheap, dependent, impossible to fold away, no allocation.</summary>
    public static long Spin(long seed, int iterations)
    {
        var x = seed | 1;
        for (var i = 0; i < iterations; i++)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }

        return x;
    }
}
