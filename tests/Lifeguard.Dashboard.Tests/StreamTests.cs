using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace Lifeguard.Dashboard.Tests;

/// <summary><c>GET events</c>: ids, snapshot coalescing, log events, reconnection with Last-Event-ID, the shared sampler.</summary>
public sealed class StreamTests
{
    [Fact]
    public async Task Events_EveryEventHasAnIncreasingId_SnapshotsAtMostFourASecond()
    {
        await using var server = await DashboardServer.StartAsync();
        await TestPools.StartCoreAsync(server.Registry, "coalesce");
        await using var stream = await SseStream.OpenAsync(server.Client);

        // A second's worth of churn while reading: events from the pool, and snapshots on the sampler's ticks.
        var clock = Stopwatch.StartNew();
        int snapshots = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(2.5))
        {
            var e = await stream.NextAsync();
            Assert.NotNull(e);
            if (e.Event == "snapshot")
            {
                snapshots++;
                Assert.Equal("coalesce", SnapshotTests.Names(e.Json).Single());
            }
        }

        var elapsed = clock.Elapsed.TotalSeconds;
        Assert.All(stream.Seen, e => Assert.False(string.IsNullOrEmpty(e.Id)));
        var ids = stream.Seen.Select(e => e.NumericId).ToList();
        Assert.Equal(ids.Order(), ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.True(snapshots >= 1, "at least one snapshot arrives");

        // The upper bound only, loosely: 4 a second, plus one for the first and one of slack.
        Assert.True(snapshots <= (4 * elapsed) + 2, $"{snapshots} snapshots in {elapsed:0.00} s");
    }

    [Fact]
    public async Task Events_WorkerKilled_LogEventsNameTheWorkerAndItsPid()
    {
        await using var server = await DashboardServer.StartAsync();
        var pool = await TestPools.StartPythonAsync(server.Registry, "stream-kill", size: 1);
        var victim = pool.GetStatus().Workers.Single();
        await using var stream = await SseStream.OpenAsync(server.Client);
        await stream.NextAsync(e => e.Event == "snapshot", "snapshot");

        Assert.Equal(WorkerKillResult.Killed, await pool.KillWorkerAsync(victim.Id, "test"));

        var killed = (await stream.NextAsync(e => SseStream.IsLog(e, "WorkerKilled"), "WorkerKilled")).Json;
        Assert.Equal("stream-kill", killed.GetProperty("pool").GetString());
        Assert.Equal(victim.Id, killed.GetProperty("workerId").GetInt32());
        Assert.Equal(victim.ProcessId, killed.GetProperty("pid").GetInt32());
        Assert.Equal("test", killed.GetProperty("source").GetString());
        Assert.Equal(9, killed.GetProperty("signal").GetInt32());
        Assert.False(string.IsNullOrEmpty(killed.GetProperty("detail").GetString()));
        Assert.True(killed.GetProperty("time").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        var started = (await stream.NextAsync(e => SseStream.IsLog(e, "WorkerStarted"), "WorkerStarted")).Json;
        Assert.NotEqual(victim.ProcessId, started.GetProperty("pid").GetInt32());
    }

    [Fact]
    public async Task Events_ReconnectWithLastEventId_MissedLogEventsThenAFreshSnapshot()
    {
        await using var server = await DashboardServer.StartAsync();
        var pool = await TestPools.StartCoreAsync(server.Registry, "resume", size: 2);
        string lastId;
        pool.Resize(2, 0, "test");
        await using (var first = await SseStream.OpenAsync(server.Client))
        {
            // A client with no Last-Event-ID is sent the log kept so far.
            await first.NextAsync(e => SseStream.IsLog(e, "Resized"), "Resized");
            lastId = (await first.NextAsync(e => e.Event == "snapshot", "snapshot")).Id!;
        }

        // Missed while away: a kill, its stop and the replacement's start.
        var victim = pool.GetStatus().Workers[0].Id;
        Assert.Equal(WorkerKillResult.Killed, await pool.KillWorkerAsync(victim, "test"));
        await TestPools.WaitUntilAsync(() => pool.GetStatus().Idle == 2, "the replacement is up");
        await TestPools.WaitUntilAsync(() => server.Hub.ClientCount == 0, "the first stream is gone");

        await using var second = await SseStream.OpenAsync(server.Client, lastId);
        var snapshot = await second.NextAsync(e => e.Event == "snapshot", "snapshot");

        var replayed = second.Seen.TakeWhile(e => e.Event == "log").ToList();
        Assert.Same(snapshot, second.Seen[replayed.Count]);
        Assert.All(replayed, e => Assert.True(e.NumericId > long.Parse(lastId, System.Globalization.CultureInfo.InvariantCulture)));
        var kinds = replayed.Select(e => e.Json.GetProperty("kind").GetString()).ToList();
        Assert.Contains("WorkerKilled", kinds);
        Assert.Contains("WorkerStopped", kinds);
        Assert.Contains("WorkerStarted", kinds);
        Assert.True(kinds.IndexOf("WorkerKilled") < kinds.LastIndexOf("WorkerStarted"));
        Assert.Equal(victim, replayed.First(e => SseStream.IsLog(e, "WorkerKilled")).Json.GetProperty("workerId").GetInt32());

        // The snapshot is fresh: taken after the kill, it no longer lists the killed worker.
        var ids = SnapshotTests.Pool(snapshot.Json, "resume").GetProperty("workers").EnumerateArray().Select(w => w.GetProperty("id").GetInt32());
        Assert.DoesNotContain(victim, ids);
        Assert.True(snapshot.NumericId > replayed[^1].NumericId);
    }

    [Fact]
    public async Task Events_ServerDropsTheStream_ItEndsAndAReconnectResumes()
    {
        await using var server = await DashboardServer.StartAsync();
        var pool = await TestPools.StartCoreAsync(server.Registry, "dropped", size: 1);
        await using var first = await SseStream.OpenAsync(server.Client);
        var last = await first.NextAsync(e => e.Event == "snapshot", "snapshot");

        server.Hub.DropClients();

        SseEvent? next;
        do
        {
            next = await first.NextAsync();
        }
        while (next is not null);
        await TestPools.WaitUntilAsync(() => server.Hub.ClientCount == 0, "the dropped client is unregistered");
        pool.Resize(2, 0, "test");
        await using var second = await SseStream.OpenAsync(server.Client, first.Seen[^1].Id);
        var resized = await second.NextAsync(e => SseStream.IsLog(e, "Resized"), "Resized");
        Assert.True(resized.NumericId > last.NumericId);
        Assert.Equal("test", resized.Json.GetProperty("source").GetString());
    }

    [Fact]
    public async Task Sampler_OneSamplePerTickForEveryClient_NoneWithoutClients()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await DashboardServer.StartAsync(options: new DashboardOptions { TimeProvider = time });
        await TestPools.StartCoreAsync(server.Registry, "shared");
        var hub = server.Hub;
        await TestPools.WaitUntilAsync(() => hub.IsParked, "the sampler waits for a client");
        Assert.Equal(0, hub.SampleCount);
        Assert.False(hub.IsListening);

        await using (var a = await SseStream.OpenAsync(server.Client))
        await using (var b = await SseStream.OpenAsync(server.Client))
        {
            await TestPools.WaitUntilAsync(() => hub.ClientCount == 2 && hub.SampleCount >= 1, "both connected and sampled");
            Assert.True(hub.IsListening);
            long lastB = 0;
            for (int tick = 0; tick < 3; tick++)
            {
                long before = hub.SampleCount;
                await AdvanceUntilAsync(time, () => hub.SampleCount > before, "the next tick");
                var fromB = await b.NextAsync(e => e.Event == "snapshot" && e.NumericId > lastB, "snapshot on b");
                var fromA = await a.NextAsync(e => e.Event == "snapshot" && e.NumericId >= fromB.NumericId, "snapshot on a");
                Assert.Equal(fromA.Id, fromB.Id); // one sample, sent to both
                Assert.Equal(before + 1, hub.SampleCount);
                lastB = fromB.NumericId;
            }
        }

        await TestPools.WaitUntilAsync(() => hub.ClientCount == 0, "both gone");
        time.Advance(TimeSpan.FromMilliseconds(250));
        await TestPools.WaitUntilAsync(() => hub.IsParked, "the sampler parks");
        long parkedAt = hub.SampleCount;
        Assert.False(hub.IsListening);
        for (int i = 0; i < 20; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(parkedAt, hub.SampleCount);
        Assert.True(hub.IsParked);
    }

    /// <summary>
    /// Moves the fake clock a tick at a time until <paramref name="condition"/> holds (the sampler sets its next delay
    /// just after a sample, so a single step could land before it): polling, bounded.
    /// </summary>
    private static async Task AdvanceUntilAsync(FakeTimeProvider time, Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            time.Advance(TimeSpan.FromMilliseconds(250));
            for (int poll = 0; poll < 50 && !condition(); poll++)
            {
                await Task.Delay(2);
            }
        }
    }
}
