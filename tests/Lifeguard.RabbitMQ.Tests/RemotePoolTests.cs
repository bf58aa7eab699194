using Lifeguard.Python;

namespace Lifeguard.RabbitMQ.Tests;

/// <summary>Calls through a remote pool to hosts in this process (each with its own python3 workers), on the real broker.</summary>
[Collection(BrokerCollection.Name)]
public sealed class RemotePoolTests(BrokerFixture broker) : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly Cluster _cluster = new(broker);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _cluster.DisposeAsync().AsTask();

    [Fact]
    public async Task Call_RunsOnAHost_AndReturnsTheTypedResult()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await _cluster.StartHostAsync(size: 2, cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);

        var result = await remote.CallAsync<int>("cluster_fixtures", "square", [7], cancellationToken: timeout.Token);
        var element = await remote.CallAsync("cluster_fixtures", "echo", [new Dictionary<string, object?> { ["a"] = 1, ["b"] = "two" }], cancellationToken: timeout.Token);

        Assert.Equal(49, result);
        Assert.Equal(1, element.GetProperty("a").GetInt32());
        Assert.Equal("two", element.GetProperty("b").GetString());
    }

    [Fact]
    public async Task Bytes_CrossAsBytes_BothWays()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await _cluster.StartHostAsync(cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);
        byte[] data = [1, 2, 3, 250];

        var seen = await remote.CallAsync("cluster_fixtures", "byte_length", [data], cancellationToken: timeout.Token);
        var reversed = await remote.CallAsync<byte[]>("cluster_fixtures", "reverse_bytes", [data], cancellationToken: timeout.Token);

        Assert.Equal("bytes", seen.GetProperty("type").GetString());
        Assert.Equal(4, seen.GetProperty("length").GetInt32());
        Assert.Equal(1, seen.GetProperty("first").GetInt32());
        Assert.Equal(new byte[] { 250, 3, 2, 1 }, reversed);
    }

    [Fact]
    public async Task PythonError_ArrivesTyped_WithTypeMessageAndTraceback()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await _cluster.StartHostAsync(cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);

        var error = await Assert.ThrowsAsync<PythonException>(() => remote.CallAsync<int>("cluster_fixtures", "fail", ["no good"], cancellationToken: timeout.Token));

        Assert.Equal("ValueError", error.PythonType);
        Assert.Equal("no good", error.PythonMessage);
        Assert.Contains("cluster_fixtures.py", error.PythonTraceback, StringComparison.Ordinal);
        Assert.Equal(_cluster.PoolName, error.PoolName);
    }

    [Fact]
    public async Task Crash_ArrivesAsPythonWorkerCrashed_WithTheExitCode()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await _cluster.StartHostAsync(cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);

        var error = await Assert.ThrowsAsync<PythonWorkerCrashedException>(() => remote.CallAsync<int>("cluster_fixtures", "crash", [7], cancellationToken: timeout.Token));

        Assert.Equal(7, error.ExitCode);
        Assert.Equal(49, await remote.CallAsync<int>("cluster_fixtures", "square", [7], cancellationToken: timeout.Token));
    }

    [Fact]
    public async Task ModuleNotServed_IsRefusedTyped()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await _cluster.StartHostAsync(cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);

        await Assert.ThrowsAsync<PythonModuleNotAllowedException>(() => remote.CallAsync<int>("os", "getpid", cancellationToken: timeout.Token));
    }

    [Fact]
    public async Task Stream_YieldsEveryItemInOrder()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await _cluster.StartHostAsync(cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);

        var items = new List<int>();
        await foreach (var item in remote.StreamAsync<int>("cluster_fixtures", "count", [100], options: new PythonCallOptions { StreamWindow = 4 }, cancellationToken: timeout.Token))
        {
            items.Add(item);
        }

        Assert.Equal(Enumerable.Range(0, 100), items);
    }

    [Fact]
    public async Task Stream_EndedEarly_ClosesTheGeneratorOnTheHost()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await _cluster.StartHostAsync(cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);
        var marker = _cluster.TempFile();

        await foreach (var item in remote.StreamAsync<int>("cluster_fixtures", "count_with_finally", [1_000_000, marker], options: new PythonCallOptions { StreamWindow = 2 }, cancellationToken: timeout.Token))
        {
            if (item == 3)
            {
                break;
            }
        }

        await Cluster.PollAsync(() => File.Exists(marker) && File.ReadAllText(marker) == "closed", timeout.Token);
        Assert.Equal(49, await remote.CallAsync<int>("cluster_fixtures", "square", [7], cancellationToken: timeout.Token));
    }

    [Fact]
    public async Task Stream_WhoseCallerTakesNoMoreWithinTheCallTimeout_EndsWithATimeout_NotWithAShortEnd()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var host = await _cluster.StartHostAsync(cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);
        var options = new PythonCallOptions { StreamWindow = 1, CallTimeout = TimeSpan.FromSeconds(2) };

        await using var items = remote.StreamAsync<int>("cluster_fixtures", "count", [100], options: options, cancellationToken: timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.True(await items.MoveNextAsync());
        Assert.Equal(0, items.Current);

        // The caller takes nothing more: the host gives up on it within the call timeout and ends the stream.
        await Cluster.PollAsync(() => host.Busy == 0, timeout.Token);

        // What the caller then sees is a timeout, never an end that would pass for the whole stream.
        await Assert.ThrowsAsync<PythonCallTimeoutException>(async () =>
        {
            while (await items.MoveNextAsync())
            {
                Assert.True(items.Current < 100);
            }
        });
    }

    [Fact]
    public async Task Cancel_InterruptsTheCallOnTheHost()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await _cluster.StartHostAsync(cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);
        var marker = _cluster.TempFile();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);

        var call = remote.CallAsync<double>("cluster_fixtures", "sleep_then", [60, marker], cancellationToken: cancel.Token);
        // Cancelled once the function runs in Python: a cancel before that is a call that never starts.
        await Cluster.PollAsync(() => File.Exists(marker) && File.ReadAllText(marker) == "started", timeout.Token);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await Cluster.PollAsync(() => File.Exists(marker) && File.ReadAllText(marker) == "interrupted", timeout.Token);
    }

    [Fact]
    public async Task Deadline_PassedInTheQueue_TheCallIsNeverRun()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await _cluster.StartHostAsync(size: 1, cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);
        var marker = _cluster.TempFile();

        // The one worker is busy for 6 s; a call behind it whose deadline is 2 s expires in the queue.
        var blocker = remote.CallAsync<double>("cluster_fixtures", "mark_and_sleep", [marker, 6], cancellationToken: timeout.Token);
        await Cluster.PollAsync(() => File.Exists(marker), timeout.Token);
        var late = remote.CallAsync<double>(
            "cluster_fixtures", "mark_and_sleep", [marker, 0], options: new PythonCallOptions { CheckoutTimeout = TimeSpan.FromSeconds(1), CallTimeout = TimeSpan.FromSeconds(1) }, cancellationToken: timeout.Token);

        await Assert.ThrowsAsync<PythonCallTimeoutException>(() => late);
        Assert.Equal(6, await blocker);
        Assert.Equal(["ran"], File.ReadAllLines(marker));
    }

    [Fact]
    public async Task Status_ListsTheHosts_WithTheirCapacity()
    {
        using var timeout = new CancellationTokenSource(Bound);
        await _cluster.StartHostAsync(size: 2, maxOverflow: 1, cancellationToken: timeout.Token);
        await _cluster.StartHostAsync(size: 1, cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);

        await Cluster.PollAsync(() => remote.Hosts.Count == 2, timeout.Token);
        var status = remote.GetStatus();

        Assert.Equal(4, status.Size);
        Assert.Equal(2, status.Workers.Count);
        Assert.Equal([1, 3], remote.Hosts.Select(h => h.Capacity).Order());
    }

    [Fact]
    public async Task PeakBusy_CallsFollowingEachOther_NeverCountsMoreThanTheCapacity()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var host = await _cluster.StartHostAsync(size: 1, cancellationToken: timeout.Token);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);

        // Always a call waiting in the queue: the broker delivers the next one the moment it has the last one's ack.
        var calls = Enumerable.Range(0, 200).Select(i => remote.CallAsync<int>("cluster_fixtures", "square", [i], cancellationToken: timeout.Token)).ToArray();
        var results = await Task.WhenAll(calls);

        Assert.All(Enumerable.Range(0, 200), i => Assert.Equal(i * i, results[i]));
        Assert.Equal(200, host.CallsServed);
        Assert.Equal(1, host.PeakBusy);
        await Cluster.PollAsync(() => host.Busy == 0, timeout.Token);
    }

    [Fact]
    public async Task CheckoutAndCallbacks_AreNotSupported()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var remote = await _cluster.StartCallerAsync(cancellationToken: timeout.Token);

        var checkout = await Assert.ThrowsAsync<NotSupportedException>(async () => await remote.CheckoutAsync(timeout.Token));
        var callback = Assert.Throws<NotSupportedException>(() => remote.AddCallback("f", (_, _) => ValueTask.FromResult<object?>(null)));

        Assert.Contains("cannot lease", checkout.Message, StringComparison.Ordinal);
        Assert.Contains("callbacks", callback.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueueFull_RejectsAtOnce()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var remote = await _cluster.StartCallerAsync(maxQueueLength: 3, cancellationToken: timeout.Token);

        // No host: the calls wait in the queue until it holds 3; the next is refused by the broker, at once.
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        var queued = new List<Task<int>>();
        PoolRejectedException? rejected = null;
        for (int i = 0; i < 10 && rejected is null; i++)
        {
            var call = remote.CallAsync<int>("cluster_fixtures", "square", [i], cancellationToken: cancel.Token);
            while (!call.IsCompleted && await _cluster.QueuedAsync(timeout.Token) < queued.Count + 1)
            {
                await Task.Delay(20, timeout.Token);
            }

            if (call.IsFaulted && call.Exception!.InnerException is PoolRejectedException e)
            {
                rejected = e;
            }
            else
            {
                queued.Add(call);
            }
        }

        Assert.NotNull(rejected);
        Assert.Equal(3, queued.Count);
        Assert.Contains("MaxQueueLength 3", rejected.Message, StringComparison.Ordinal);
        Assert.Equal(1, remote.GetStatus().TotalRejections);

        await cancel.CancelAsync();
        foreach (var call in queued)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        }
    }
}
