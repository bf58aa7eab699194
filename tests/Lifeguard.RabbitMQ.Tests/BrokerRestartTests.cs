using System.Diagnostics;
using System.Globalization;
using Lifeguard.Python;
using Lifeguard.Testing;
using Xunit.Abstractions;

namespace Lifeguard.RabbitMQ.Tests;

/// <summary>
/// A broker node of these tests' own (its own state folder), which they stop and start under running hosts and callers,
/// so the assembly's shared node is never disturbed. Its application is running between tests.
/// </summary>
public sealed class RestartingBrokerFixture : IAsyncLifetime
{
    private bool _appStopped;

    public RabbitMqNode Node { get; private set; } = null!;

    public async Task InitializeAsync()
        => Node = await RabbitMqNode.StartAsync(
            Path.Combine(Repository.Root, "artifacts", "rabbitmq", "test-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-restart"));

    public async Task StopAppAsync(CancellationToken cancellationToken)
    {
        _appStopped = true;
        await Node.StopAppAsync(cancellationToken);
    }

    public async Task StartAppAsync(CancellationToken cancellationToken)
    {
        await Node.StartAppAsync(cancellationToken);
        _appStopped = false;
    }

    /// <summary>Starts the application when a test left it stopped.</summary>
    public async Task EnsureServingAsync()
    {
        if (_appStopped)
        {
            await StartAppAsync(CancellationToken.None);
        }
    }

    public async Task DisposeAsync()
    {
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }
    }
}

/// <summary>
/// The broker stopped (its application, or the whole node) and started again under hosts and callers: typed errors
/// within the calls' deadlines, nothing that hangs, then recovery.
/// </summary>
public sealed class BrokerRestartTests(RestartingBrokerFixture broker, ITestOutputHelper output) : IClassFixture<RestartingBrokerFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(150);

    /// <summary>How long a call sent during an outage may take to fail: at once, with time to spare on a loaded machine.</summary>
    private static readonly TimeSpan FailFast = TimeSpan.FromSeconds(2);

    private static readonly PythonCallOptions Short = new() { CheckoutTimeout = TimeSpan.FromSeconds(3), CallTimeout = TimeSpan.FromSeconds(5) };

    /// <summary>A probe's call: sent only once its caller is connected again, it waits in the queue for a host to be back too.</summary>
    private static readonly PythonCallOptions Probe = new() { CheckoutTimeout = TimeSpan.FromSeconds(3), CallTimeout = TimeSpan.FromSeconds(20) };

    /// <summary>The deadline of a held call: checkout 10 s plus its call timeout.</summary>
    private static readonly TimeSpan HeldDeadline = TimeSpan.FromSeconds(100);

    private readonly Cluster _cluster = new(broker.Node);

    public Task InitializeAsync() => broker.EnsureServingAsync();

    public async Task DisposeAsync()
    {
        await broker.EnsureServingAsync();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task CallsDuringAnOutage_FailFastWithBrokerUnavailable_WithinTheirDeadline_ThenTheClusterServesAgain()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await _cluster.StartHostAsync(size: 2, cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);
        Assert.Equal(49, await remote.CallAsync<int>("cluster_fixtures", "square", [7], options: Short, cancellationToken: timeout.Token));

        await broker.StopAppAsync(timeout.Token);
        await Cluster.PollAsync(() => !remote.IsConnected, timeout.Token);

        var idempotent = new PythonCallOptions { CheckoutTimeout = Short.CheckoutTimeout, CallTimeout = Short.CallTimeout, Idempotent = true };
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAsync<BrokerUnavailableException>(() => remote.CallAsync<int>("cluster_fixtures", "square", [7], options: Short, cancellationToken: timeout.Token));
        var call = clock.Elapsed;
        clock.Restart();
        await Assert.ThrowsAsync<BrokerUnavailableException>(() => remote.CallAsync<int>("cluster_fixtures", "square", [7], options: idempotent, cancellationToken: timeout.Token));
        var retried = clock.Elapsed;
        clock.Restart();
        await Assert.ThrowsAsync<BrokerUnavailableException>(async () =>
        {
            await foreach (var item in remote.StreamAsync<int>("cluster_fixtures", "count", [3], options: Short, cancellationToken: timeout.Token))
            {
                Assert.Fail($"the stream yielded {item} with the broker down");
            }
        });
        var stream = clock.Elapsed;
        output.WriteLine($"failed after: call {call.TotalMilliseconds:0} ms, idempotent call {retried.TotalMilliseconds:0} ms, stream {stream.TotalMilliseconds:0} ms");
        Assert.All(new[] { call, retried, stream }, elapsed => Assert.True(elapsed < FailFast, $"a call failed after {elapsed}, not at once"));
        Assert.Equal(PoolState.Backoff, remote.GetStatus().State);

        // Calls all the while the broker comes back, its topology recovery included: each fails typed and at once
        // until the caller's recovery has finished, none is sent before it (a publish that names the direct reply-to
        // before its consumer is declared again would close the channel), then they succeed.
        var listening = ListenerBackAsync(broker.Node.Uri, timeout.Token);
        var probe = ProbeAsync(remote, timeout.Token);
        await broker.StartAppAsync(timeout.Token);
        var back = Stopwatch.GetTimestamp();
        var (succeeded, failures) = await probe;
        Report("start_app", await listening, back, succeeded, failures.Count);
        AssertRecoveredCleanly(failures);
        Assert.True(remote.IsConnected);
        Assert.Equal(Enumerable.Range(0, 3), await ToListAsync(remote.StreamAsync<int>("cluster_fixtures", "count", [3], options: Short, cancellationToken: timeout.Token)));
    }

    [Fact]
    public async Task InFlightCall_NotIdempotent_ItsReplyLostWithTheBroker_GetsBrokerUnavailable_BeforeItsDeadline()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var clock = Stopwatch.StartNew();
        var (remote, started, release, call) = await StartHeldCallAsync(idempotent: false, timeout.Token);
        await broker.StopAppAsync(timeout.Token);

        var error = await Assert.ThrowsAsync<BrokerUnavailableException>(() => call);
        var failed = clock.Elapsed;
        output.WriteLine($"the in-flight call failed {failed.TotalMilliseconds:0} ms after it was made (deadline {HeldDeadline})");
        Assert.Contains("lost", error.Message, StringComparison.Ordinal);
        Assert.True(failed < HeldDeadline, $"it failed after {failed}, past its deadline");

        File.WriteAllText(release, "go");
        await broker.StartAppAsync(timeout.Token);
        AssertRecoveredCleanly((await ProbeAsync(remote, timeout.Token)).Failures);

        // Not run again: it was not idempotent (its redelivery is answered, to nobody, with the host lost).
        Assert.Single(File.ReadAllLines(started));
    }

    [Fact]
    public async Task InFlightCall_Idempotent_IsSentAgainOnceTheBrokerIsBack_AndSucceeds()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var (remote, started, release, call) = await StartHeldCallAsync(idempotent: true, timeout.Token);
        await broker.StopAppAsync(timeout.Token);
        await Cluster.PollAsync(() => !remote.IsConnected, timeout.Token);
        Assert.False(call.IsCompleted, "an idempotent call whose reply was lost waits for the broker within its deadline");

        await broker.StartAppAsync(timeout.Token);
        await Cluster.PollAsync(() => File.ReadAllLines(started).Length >= 2, timeout.Token);
        File.WriteAllText(release, "go");

        Assert.Equal("released", await call.WaitAsync(timeout.Token));
    }

    [Fact]
    public async Task HostAndCaller_RecoverAfterAFullNodeRestart_AndServe()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var (remote, _, release, inFlight) = await StartHeldCallAsync(idempotent: false, timeout.Token);
        var host = _cluster.Hosts.Single();

        var restart = broker.Node.RestartAsync(timeout.Token);
        await Assert.ThrowsAsync<BrokerUnavailableException>(() => inFlight);
        File.WriteAllText(release, "go");
        var listening = ListenerBackAsync(broker.Node.Uri, timeout.Token);
        var probe = ProbeAsync(remote, timeout.Token);
        await restart;
        var back = Stopwatch.GetTimestamp();

        var (succeeded, failures) = await probe;
        Report("restart", await listening, back, succeeded, failures.Count);
        AssertRecoveredCleanly(failures);
        Assert.True(remote.IsConnected);
        await Cluster.PollAsync(() => remote.Hosts.Any(h => h.Host == host.HostName), timeout.Token);
        var results = await Task.WhenAll(Enumerable.Range(1, 8).Select(i => remote.CallAsync<int>("cluster_fixtures", "square", [i], options: Short, cancellationToken: timeout.Token)));
        Assert.Equal([1, 4, 9, 16, 25, 36, 49, 64], results.ToArray());
    }

    [Fact]
    public async Task Dispose_DuringAnOutage_ReturnsPromptly_AndEndsTheCallsWaitingForRecovery()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await using var pool = await PythonPool.StartAsync(Cluster.PoolOptions(_cluster.PoolName, size: 2), timeout.Token);
        var host = await RabbitMqPoolHost.StartAsync(
            pool, new RabbitMqServeOptions { Broker = broker.Node.Uri, HostName = "host-1", DrainTimeout = TimeSpan.FromSeconds(10) }, timeout.Token);
        var remote = await RemotePythonPool.StartAsync(new RemotePythonPoolOptions { Name = _cluster.PoolName, Broker = broker.Node.Uri }, timeout.Token);
        string started = _cluster.TempFile(), release = _cluster.TempFile();
        var options = new PythonCallOptions { CheckoutTimeout = TimeSpan.FromSeconds(10), CallTimeout = TimeSpan.FromSeconds(120), Idempotent = true };
        var waiting = remote.CallAsync<string>("cluster_fixtures", "hold", [started, release, 120], options: options, cancellationToken: timeout.Token);
        await Cluster.PollAsync(() => File.Exists(started), timeout.Token);

        await broker.StopAppAsync(timeout.Token);
        await Cluster.PollAsync(() => !remote.IsConnected, timeout.Token);
        Assert.False(waiting.IsCompleted);
        File.WriteAllText(release, "go");

        var clock = Stopwatch.StartNew();
        await remote.DisposeAsync().AsTask().WaitAsync(timeout.Token);
        var caller = clock.Elapsed;
        await Assert.ThrowsAnyAsync<Exception>(() => waiting.WaitAsync(timeout.Token));
        var ended = clock.Elapsed;
        clock.Restart();
        await host.DisposeAsync().AsTask().WaitAsync(timeout.Token);
        var hosted = clock.Elapsed;
        output.WriteLine($"during the outage: caller disposed in {caller.TotalMilliseconds:0} ms, its waiting call ended after {ended.TotalMilliseconds:0} ms, host disposed in {hosted.TotalMilliseconds:0} ms");

        Assert.IsType<BrokerUnavailableException>(await Record.ExceptionAsync(() => waiting));
        Assert.True(ended < TimeSpan.FromSeconds(5), $"the call waiting for recovery ended {ended} after the dispose began");
        Assert.True(hosted < TimeSpan.FromSeconds(15), $"the host took {hosted} to stop");
    }

    /// <summary>
    /// A host (2 workers) and a caller, and a call of the caller's that runs on the host (its function has started)
    /// and holds its worker until the file <c>Release</c> exists, or its deadline.
    /// </summary>
    private async Task<(RemotePythonPool Remote, string Started, string Release, Task<string?> Call)> StartHeldCallAsync(bool idempotent, CancellationToken cancellationToken)
    {
        await _cluster.StartHostAsync(size: 2, cancellationToken: cancellationToken);
        var remote = await _cluster.StartCallerAsync(cancellationToken: cancellationToken);
        string started = _cluster.TempFile(), release = _cluster.TempFile();
        var options = new PythonCallOptions { CheckoutTimeout = TimeSpan.FromSeconds(10), CallTimeout = HeldDeadline - TimeSpan.FromSeconds(10), Idempotent = idempotent };
        var call = remote.CallAsync<string>("cluster_fixtures", "hold", [started, release, 90], options: options, cancellationToken: cancellationToken);
        await Cluster.PollAsync(() => File.Exists(started), cancellationToken);
        return (remote, started, release, call);
    }

    /// <summary>
    /// The moment the node's AMQP port accepts a connection again, after it has refused one (polled every 10 ms,
    /// within the token's bound).
    /// </summary>
    private static async Task<long> ListenerBackAsync(Uri broker, CancellationToken cancellationToken)
    {
        bool refused = false;
        while (true)
        {
            using var client = new System.Net.Sockets.TcpClient();
            try
            {
                await client.ConnectAsync(broker.Host, broker.Port, cancellationToken);
                if (refused)
                {
                    return Stopwatch.GetTimestamp();
                }
            }
            catch (System.Net.Sockets.SocketException)
            {
                refused = true;
            }

            await Task.Delay(10, cancellationToken); // polling the port, within the token's bound
        }
    }

    /// <summary>The recovery figures: from the port accepting again, and from the script's return, to the first successful call.</summary>
    private void Report(string what, long listening, long back, long succeeded, int failures)
        => output.WriteLine(
            $"{what}: port accepting again -> first successful call {Stopwatch.GetElapsedTime(listening, succeeded).TotalMilliseconds:0} ms; "
            + $"script returned -> first successful call {Stopwatch.GetElapsedTime(back, succeeded).TotalMilliseconds:0} ms (negative: before the script saw the node up); "
            + $"{failures} typed failures before");

    /// <summary>
    /// Four callers' loops, each calling every few milliseconds until one of its calls succeeds, within the token's
    /// bound: the timestamp of the first success, and the errors of the calls before.
    /// </summary>
    private static async Task<(long Succeeded, List<Exception> Failures)> ProbeAsync(RemotePythonPool remote, CancellationToken cancellationToken)
    {
        var loops = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => ProbeLoopAsync(remote, cancellationToken), cancellationToken)));
        return (loops.Min(l => l.Succeeded), [.. loops.SelectMany(l => l.Failures)]);
    }

    private static async Task<(long Succeeded, List<Exception> Failures)> ProbeLoopAsync(RemotePythonPool remote, CancellationToken cancellationToken)
    {
        var failures = new List<Exception>();
        while (true)
        {
            try
            {
                Assert.Equal(49, await remote.CallAsync<int>("cluster_fixtures", "square", [7], options: Probe, cancellationToken: cancellationToken));
                return (Stopwatch.GetTimestamp(), failures);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException && !cancellationToken.IsCancellationRequested)
            {
                failures.Add(e);
                await Task.Delay(2, cancellationToken); // polling the recovery, within the token's bound
            }
        }
    }

    /// <summary>
    /// The failures while the broker came back were the outage's own, at once: no call was sent into a channel still
    /// recovering (which the broker answers by closing it), and none waited out a timeout.
    /// </summary>
    private static void AssertRecoveredCleanly(List<Exception> failures)
    {
        Assert.All(failures, e =>
        {
            Assert.IsType<BrokerUnavailableException>(e);
            Assert.DoesNotContain("PRECONDITION_FAILED", e.ToString(), StringComparison.Ordinal);
        });
    }

    private static async Task<List<T?>> ToListAsync<T>(IAsyncEnumerable<T?> items)
    {
        var list = new List<T?>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }
}
