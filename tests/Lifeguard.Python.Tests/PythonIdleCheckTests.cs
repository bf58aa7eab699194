namespace Lifeguard.Python.Tests;

/// <summary>The Python worker's idle check: a ping frame its main loop answers with a pong.</summary>
public sealed class PythonIdleCheckTests : PythonTestBase
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(PythonStartMode.Spawn)]
    [InlineData(PythonStartMode.ForkServer)]
    public async Task PingAsync_IdleWorker_AnswersEachPing_AndServesCallsBetweenThem(PythonStartMode mode)
    {
        var options = Options("ping-" + mode);
        options.StartMode = mode;
        await using var pool = await PythonPool.StartAsync(options);
        await using var lease = await pool.CheckoutAsync();
        var worker = lease.Worker;

        for (int i = 0; i < 3; i++)
        {
            Assert.True(await worker.PingAsync(CancellationToken.None).AsTask().WaitAsync(Bound));
            Assert.Equal(49, await worker.CallAsync<int>("fixtures", "square", [7]));
        }

        Assert.Equal(0, pool.GetStatus().TotalDeaths);
    }

    [Fact]
    public async Task PingAsync_WorkerInACall_IsFalse_AndTheCallGoesOn()
    {
        await using var pool = await PythonPool.StartAsync(Options("ping-busy"));
        await using var lease = await pool.CheckoutAsync();
        var worker = lease.Worker;
        var call = worker.CallAsync<double>("fixtures", "sleep", [0.5]);

        Assert.False(await worker.PingAsync(CancellationToken.None));

        Assert.Equal(0.5, await call.WaitAsync(Bound));
        Assert.True(await worker.PingAsync(CancellationToken.None).AsTask().WaitAsync(Bound));
    }

    [Fact]
    public async Task PingAsync_StoppedWorker_IsFalse()
    {
        await using var pool = await PythonPool.StartAsync(Options("ping-stopped"));
        PythonWorker worker;
        await using (var lease = await pool.CheckoutAsync())
        {
            worker = lease.Worker;
        }

        await pool.StopAsync();

        Assert.False(await worker.PingAsync(CancellationToken.None));
    }

    [Fact]
    public async Task IdleChecks_OnHealthyWorkers_EveryCallSucceeds_AndNoWorkerIsReplaced()
    {
        var options = Options("ping-pool", size: 2);
        options.IdleCheckAfter = TimeSpan.FromTicks(1); // every idle worker is checked
        options.IdleCheckTimeout = TimeSpan.FromSeconds(10); // generous: a loaded machine must not fail a healthy one
        await using var pool = await PythonPool.StartAsync(options);

        for (int i = 0; i < 20; i++)
        {
            var squares = await Task.WhenAll(pool.CallAsync<int>("fixtures", "square", [i]), pool.CallAsync<int>("fixtures", "square", [i + 1]));
            Assert.Equal([i * i, (i + 1) * (i + 1)], squares);
        }

        var status = pool.GetStatus();
        Assert.Equal(0, status.TotalDeaths);
        Assert.Equal(2, status.TotalStarts);
    }
}
