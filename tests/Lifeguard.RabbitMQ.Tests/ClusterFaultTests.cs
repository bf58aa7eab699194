using System.Diagnostics;
using System.Globalization;
using Lifeguard.Python;
using Lifeguard.Testing;

namespace Lifeguard.RabbitMQ.Tests;

/// <summary>
/// The cluster as it runs for real: `lifeguard serve` hosts as separate processes (each with its python3 workers),
/// callers in this process, faults dealt by pid.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ClusterFaultTests(BrokerFixture broker) : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly Cluster _cluster = new(broker);
    private readonly List<ServeProcess> _hosts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            host.Dispose();
        }

        await _cluster.DisposeAsync();
    }

    private async Task<ServeProcess> ServeAsync(string name, int size, CancellationToken cancellationToken, params string[] extra)
    {
        var host = await ServeProcess.StartAsync(_cluster.Broker, _cluster.PoolName, name, ["--size", size.ToString(CultureInfo.InvariantCulture), .. extra], cancellationToken);
        _hosts.Add(host);
        return host;
    }

    [Fact]
    public async Task ThreeHosts_ResultsAreCorrectAndInOrder_AndNoHostRunsMoreThanItsCapacity()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        await Task.WhenAll(ServeAsync("a", 2, ct), ServeAsync("b", 2, ct), ServeAsync("c", 1, ct));
        var remote = await _cluster.StartCallerAsync(cancellationToken: ct);
        var marker = _cluster.TempFile();

        // 60 calls at once against a capacity of 5: the queue holds the rest, each host takes what it can start.
        var calls = Enumerable.Range(0, 60).Select(i => remote.CallAsync<int>("cluster_fixtures", "traced_sleep", [marker, i, 0.05], cancellationToken: ct)).ToArray();
        var results = await Task.WhenAll(calls);

        Assert.Equal(Enumerable.Range(0, 60), results);
        await Cluster.PollAsync(() => remote.Hosts.Count == 3 && remote.Hosts.Sum(h => h.CallsServed) == 60, ct);
        var hosts = remote.Hosts.ToDictionary(h => h.Host, StringComparer.Ordinal);
        Assert.Equal([2, 2, 1], new[] { hosts["a"].Capacity, hosts["b"].Capacity, hosts["c"].Capacity });
        Assert.All(hosts.Values, h => Assert.InRange(h.PeakBusy, 1, h.Capacity));

        // The cluster-wide cap, from the workers' own trace: never more than 5 calls between their start and end.
        int running = 0, peak = 0;
        foreach (var line in File.ReadAllLines(marker))
        {
            running += line.StartsWith("start", StringComparison.Ordinal) ? 1 : -1;
            peak = Math.Max(peak, running);
        }

        Assert.InRange(peak, 2, 5);
        Assert.Equal(3, File.ReadAllLines(marker).Where(l => l.StartsWith("start", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).Distinct().Count());
    }

    [Fact]
    public async Task HostKilledUnderLoad_IdempotentCallsCompleteOnce_InFlightOthersGetHostLost_NothingElseFails()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        var victim = await ServeAsync("victim", 2, ct);
        await Task.WhenAll(ServeAsync("b", 2, ct), ServeAsync("c", 2, ct));
        var remote = await _cluster.StartCallerAsync(cancellationToken: ct);
        var marker = _cluster.TempFile();

        // Even inputs idempotent, odd ones not, each 0.5 s: the victim is killed with calls of both kinds in flight.
        var calls = Enumerable.Range(0, 80).Select(i => remote.CallAsync<int>(
            "cluster_fixtures", "traced_sleep", [marker, i, 0.5], options: new PythonCallOptions { Idempotent = i % 2 == 0 }, cancellationToken: ct)).ToArray();
        await Cluster.PollAsync(() => InFlight(marker, victim.Pid).Select(i => i % 2).Distinct().Count() == 2, ct);
        var victimWorkers = Started(marker).Where(s => s.Host == victim.Pid).Select(s => s.Worker).Distinct().ToList();
        victim.Kill();
        await victim.WaitForExitAsync(ct);
        var outcomes = await Task.WhenAll(calls.Select(async c =>
        {
            try
            {
                return (Result: await c, Error: (Exception?)null);
            }
            catch (Exception e)
            {
                return (Result: -1, Error: e);
            }
        }));

        var cutShort = InFlight(marker, victim.Pid).ToHashSet();
        Assert.NotEmpty(cutShort);
        for (int i = 0; i < 80; i++)
        {
            var (result, error) = outcomes[i];
            if (i % 2 == 0 || !cutShort.Contains(i))
            {
                // Idempotent calls run again elsewhere; calls the victim never started run as usual.
                Assert.True(error is null, $"call {i} failed: {error}");
                Assert.Equal(i, result);
            }
            else
            {
                Assert.IsType<RemoteHostLostException>(error);
            }
        }

        // Each idempotent call has exactly one result, whatever ran twice; the victim's workers died with it.
        Assert.Contains(cutShort, i => i % 2 == 0);
        foreach (var pid in victimWorkers)
        {
            await Cluster.PollAsync(() => !ProcFs.IsRunning(pid), ct);
        }
    }

    [Fact]
    public async Task PoisonInput_KillingEveryHostItReaches_GoesToTheDeadLetterQueueAfterTheThreshold()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        await Task.WhenAll(ServeAsync("a", 1, ct), ServeAsync("b", 1, ct), ServeAsync("c", 1, ct));
        var remote = await _cluster.StartCallerAsync(cancellationToken: ct);

        var error = await Assert.ThrowsAsync<PythonPoisonInputException>(() => remote.CallAsync<int>(
            "cluster_fixtures", "kill_host", options: new PythonCallOptions { Idempotent = true }, cancellationToken: ct));

        // Two hosts died running it; the third delivery was moved, not run.
        Assert.Equal(3, error.Deliveries);
        Assert.Equal($"lifeguard.{_cluster.PoolName}.dead", error.DeadLetterQueue);
        Assert.Equal(2, _hosts.Count(h => h.HasExited));
        Assert.Equal(1u, await _cluster.DeadLetteredAsync(ct));
        Assert.Equal(49, await remote.CallAsync<int>("cluster_fixtures", "square", [7], cancellationToken: ct));
    }

    [Fact]
    public async Task Serve_OnSigterm_FinishesTheCallsItRuns_ThenExitsZero()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        var host = await ServeAsync("a", 1, ct);
        var remote = await _cluster.StartCallerAsync(cancellationToken: ct);
        var marker = _cluster.TempFile();

        var call = remote.CallAsync<int>("cluster_fixtures", "traced_sleep", [marker, 5, 1.0], cancellationToken: ct);
        await Cluster.PollAsync(() => File.Exists(marker), ct);
        using (var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", host.Pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync(ct);
        }

        Assert.Equal(5, await call);
        Assert.Equal(0, await host.WaitForExitAsync(ct));
        Assert.Contains("stopped after 1 calls", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(_cluster.Broker.UserInfo.Split(':')[1], host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_AFileWhoseNameIsNotAnIdentifier_ExitsTwo()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var file = Path.Combine(Path.GetDirectoryName(_cluster.TempFile())!, "my-module.py");
        await File.WriteAllTextAsync(file, "def f():\n    return 1\n", timeout.Token);
        var info = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "Lifeguard.Cli.dll"), "serve", file, "--pool", _cluster.PoolName, "--broker", _cluster.Broker.ToString() })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("not a Python identifier", await stderr, StringComparison.Ordinal);
    }

    /// <summary>The inputs <paramref name="host"/> has started and not finished, by the trace.</summary>
    private static IEnumerable<int> InFlight(string marker, int host)
    {
        var ended = !File.Exists(marker) ? [] : File.ReadAllLines(marker)
            .Where(l => l.StartsWith("end", StringComparison.Ordinal) && l.EndsWith(" " + host.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal))
            .Select(l => int.Parse(l.Split(' ')[1], CultureInfo.InvariantCulture))
            .ToHashSet();
        return Started(marker).Where(s => s.Host == host && !ended.Contains(s.Index)).Select(s => s.Index);
    }

    private static List<(int Index, int Host, int Worker)> Started(string marker)
        => !File.Exists(marker) ? [] : [.. File.ReadAllLines(marker)
            .Where(l => l.StartsWith("start", StringComparison.Ordinal))
            .Select(l => l.Split(' '))
            .Select(p => (int.Parse(p[1], CultureInfo.InvariantCulture), int.Parse(p[2], CultureInfo.InvariantCulture), int.Parse(p[3], CultureInfo.InvariantCulture)))];
}
