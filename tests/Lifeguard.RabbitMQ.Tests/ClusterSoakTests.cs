using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Lifeguard.Python;
using Lifeguard.Testing;
using Xunit.Abstractions;

namespace Lifeguard.RabbitMQ.Tests;

/// <summary>
/// A sustained load on three `lifeguard serve` hosts while one of them is SIGKILLed at a steady interval and replaced.
/// The CI profile makes a few thousand calls with a kill every 1.5 s; the long profile (<c>LIFEGUARD_RELIABILITY=long</c>)
/// makes 100,000 calls with a kill every 10 s.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ClusterSoakTests(BrokerFixture broker, ITestOutputHelper output) : IAsyncLifetime
{
    private const int HostSize = 2;
    private const int Callers = 24;
    private readonly Cluster _cluster = new(broker);
    private readonly ConcurrentBag<ServeProcess> _hosts = [];

    private static bool LongProfile =>
        string.Equals(Environment.GetEnvironmentVariable("LIFEGUARD_RELIABILITY"), "long", StringComparison.OrdinalIgnoreCase);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            host.Dispose();
        }

        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task HostKilledAtIntervals_EveryIdempotentCallCompletes_OnlyCallsOnAKilledHostGetHostLost_NoWorkerLeft()
    {
        int calls = LongProfile ? 100_000 : 3_000;
        int minimumKills = LongProfile ? 1 : 2;
        var interval = TimeSpan.FromSeconds(LongProfile ? 10 : 1.5);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(LongProfile ? 60 : 4));
        var ct = timeout.Token;

        var serving = new ConcurrentQueue<ServeProcess>(await Task.WhenAll(Enumerable.Range(1, 3).Select(i => ServeAsync($"h{i}", ct))));
        var remote = await _cluster.StartCallerAsync(cancellationToken: ct);
        var clock = Stopwatch.StartNew();

        // Every tenth call is not idempotent: a kill may cut it short, and then (only then) it gets RemoteHostLost.
        int next = -1, made = 0, kills = 0, correct = 0;
        var failures = new ConcurrentQueue<(int Index, Exception Error)>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        async Task CallLoopAsync()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < calls || Volatile.Read(ref kills) < minimumKills)
            {
                Interlocked.Increment(ref made);
                try
                {
                    var options = new PythonCallOptions { Idempotent = i % 10 != 0 };
                    var result = await remote.CallAsync<long>("cluster_fixtures", "square", [i], options: options, cancellationToken: ct);
                    if (result == (long)i * i)
                    {
                        Interlocked.Increment(ref correct);
                    }
                    else
                    {
                        failures.Enqueue((i, new InvalidDataException($"square({i}) returned {result}")));
                    }
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    failures.Enqueue((i, e));
                }
            }
        }

        var killedWorkers = new List<int>();
        async Task KillLoopAsync()
        {
            try
            {
                while (true)
                {
                    await Task.Delay(interval, stop.Token);
                    Assert.True(serving.TryDequeue(out var victim));
                    killedWorkers.AddRange(ProcFs.ChildrenOf(victim.Pid));
                    victim.Kill();
                    await victim.WaitForExitAsync(ct);
                    Interlocked.Increment(ref kills);
                    serving.Enqueue(await ServeAsync($"h{kills + 3}", ct));
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                // The calls are done.
            }
        }

        var killer = KillLoopAsync();
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(_ => Task.Run(CallLoopAsync, ct)));
        await stop.CancelAsync();
        await killer;
        var elapsed = clock.Elapsed;

        // A kill cuts short at most the host's capacity of calls (prefetch equals it, so no more are unacknowledged).
        var hostLost = failures.Where(f => f.Error is RemoteHostLostException).ToList();
        var unexpected = failures.Where(f => f.Error is not RemoteHostLostException || f.Index % 10 != 0).ToList();
        var report = string.Create(
            CultureInfo.InvariantCulture,
            $"cluster soak: {made} calls in {elapsed.TotalSeconds:F1} s on 3 hosts of {HostSize}, {kills} hosts SIGKILLed (every {interval.TotalSeconds} s): {correct} correct, {hostLost.Count} RemoteHostLost (non-idempotent, cut short), {unexpected.Count} other failures");
        output.WriteLine(report);
        if (Environment.GetEnvironmentVariable("LIFEGUARD_RELIABILITY_REPORT") is { Length: > 0 } path)
        {
            await File.AppendAllTextAsync(path, report + Environment.NewLine, CancellationToken.None);
        }

        Assert.True(unexpected.Count == 0, $"{unexpected.Count} unexpected failures, first: {unexpected.FirstOrDefault().Error}");
        Assert.InRange(kills, minimumKills, int.MaxValue);
        Assert.InRange(hostLost.Count, 0, kills * HostSize);
        Assert.Equal(made - hostLost.Count, correct);

        // The killed hosts' python workers died with them; the cluster still serves.
        foreach (var pid in killedWorkers)
        {
            await Cluster.PollAsync(() => !ProcFs.IsRunning(pid), ct);
        }

        Assert.Equal(49L, await remote.CallAsync<long>("cluster_fixtures", "square", [7], cancellationToken: ct));
    }

    private async Task<ServeProcess> ServeAsync(string name, CancellationToken cancellationToken)
    {
        var host = await ServeProcess.StartAsync(_cluster.Broker, _cluster.PoolName, name, ["--size", HostSize.ToString(CultureInfo.InvariantCulture)], cancellationToken);
        _hosts.Add(host);
        return host;
    }
}
