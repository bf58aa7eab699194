using Lifeguard.Python;
using Lifeguard.Testing;

namespace Lifeguard.Dashboard.Tests;

/// <summary>Real pools for the dashboard to show: core pools of in-process workers, and python3 pools on python/dash.py.</summary>
public static class TestPools
{
    public static string PythonFolder => Path.Combine(AppContext.BaseDirectory, "python");

    public static Task<Pool<FakeWorker>> StartCoreAsync(PoolRegistry registry, string name, int size = 2, int maxOverflow = 0)
        => registry.StartPoolAsync(new PoolOptions { Name = name, Size = size, MaxOverflow = maxOverflow, MaxRestarts = 100 }, new FakeWorkerFactory());

    public static async Task<PythonPool> StartPythonAsync(PoolRegistry registry, string name, int size = 2, int maxOverflow = 0)
    {
        var options = new PythonPoolOptions
        {
            Name = name,
            Size = size,
            MaxOverflow = maxOverflow,
            MaxRestarts = 100,
            CallTimeout = TimeSpan.FromSeconds(60),
            StartTimeout = TimeSpan.FromSeconds(60),
        };
        options.ModulePaths.Add(PythonFolder);
        options.Preload.Add("dash");
        var pool = await PythonPool.StartAsync(options);
        registry.Add(pool);
        return pool;
    }

    /// <summary>Waits, polling with a bound, until <paramref name="condition"/> holds.</summary>
    public static Task WaitUntilAsync(Func<bool> condition, string what, int timeoutMs = 30_000)
        => FakeWorkerFactory.WaitUntilAsync(condition, what, timeoutMs);
}
