using System.Net;
using System.Text.Json;

namespace Lifeguard.Dashboard.Tests;

/// <summary><c>GET api/snapshot</c>: every pool of the registry, in the documented schema, from real pools.</summary>
public sealed class SnapshotTests
{
    private static readonly string[] PoolKeys =
    [
        "name", "state", "size", "maxOverflow", "generation", "idle", "busy", "starting", "stopping", "overflow", "waiters",
        "totalRestarts", "totalDeaths", "totalCheckouts", "totalStarts", "totalTimeouts", "totalRejections",
        "totalStartFailures", "sizing", "rates", "workers",
    ];

    private static readonly string[] WorkerKeys = ["id", "slot", "generation", "pid", "state", "uses", "ageSeconds", "rssBytes", "retirePending", "host", "call", "outputTail"];

    [Fact]
    public async Task Snapshot_CoreAndPythonPools_SchemaAsDocumented()
    {
        await using var server = await DashboardServer.StartAsync();
        var core = await TestPools.StartCoreAsync(server.Registry, "snap-core", size: 2, maxOverflow: 1);
        var python = await TestPools.StartPythonAsync(server.Registry, "snap-py", size: 2);
        using var cts = new CancellationTokenSource();
        var call = python.CallAsync<double>("dash", "sleep", [60], cancellationToken: cts.Token);
        await TestPools.WaitUntilAsync(() => python.GetStatus().Workers.Any(w => w.CurrentCall is not null), "the call runs");

        using var response = await server.Client.GetAsync(new Uri("api/snapshot", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.False(root.GetProperty("actions").GetBoolean());
        var pools = root.GetProperty("pools").EnumerateArray().ToList();
        Assert.Equal(["snap-core", "snap-py"], pools.Select(p => p.GetProperty("name").GetString()));
        foreach (var pool in pools)
        {
            Assert.Equal(PoolKeys, pool.EnumerateObject().Select(p => p.Name));
            foreach (var worker in pool.GetProperty("workers").EnumerateArray())
            {
                Assert.Equal(WorkerKeys, worker.EnumerateObject().Select(p => p.Name));
            }
        }

        var corePool = pools[0];
        var coreStatus = core.GetStatus();
        Assert.Equal("Ready", corePool.GetProperty("state").GetString());
        Assert.Equal(2, corePool.GetProperty("size").GetInt32());
        Assert.Equal(1, corePool.GetProperty("maxOverflow").GetInt32());
        Assert.Equal(2, corePool.GetProperty("idle").GetInt32());
        Assert.Equal(0, corePool.GetProperty("busy").GetInt32());
        Assert.Equal(0, corePool.GetProperty("waiters").GetInt32());
        Assert.Equal(JsonValueKind.Null, corePool.GetProperty("rates").ValueKind);
        var coreWorkers = corePool.GetProperty("workers").EnumerateArray().ToList();
        Assert.Equal(coreStatus.Workers.Select(w => w.Id), coreWorkers.Select(w => w.GetProperty("id").GetInt32()));
        Assert.All(coreWorkers, w =>
        {
            Assert.Equal(JsonValueKind.Null, w.GetProperty("pid").ValueKind);
            Assert.Equal(JsonValueKind.Null, w.GetProperty("rssBytes").ValueKind);
            Assert.Equal(JsonValueKind.Null, w.GetProperty("host").ValueKind);
            Assert.Equal(JsonValueKind.Null, w.GetProperty("call").ValueKind);
            Assert.Equal("Idle", w.GetProperty("state").GetString());
            Assert.True(w.GetProperty("ageSeconds").GetDouble() >= 0);
            Assert.Empty(w.GetProperty("outputTail").EnumerateArray());
        });

        var pyPool = pools[1];
        Assert.Equal(1, pyPool.GetProperty("busy").GetInt32());
        Assert.Equal(1, pyPool.GetProperty("idle").GetInt32());
        var pyWorkers = pyPool.GetProperty("workers").EnumerateArray().ToList();
        var pids = python.GetStatus().Workers.Select(w => w.ProcessId).ToList();
        Assert.Equal(pids, pyWorkers.Select(w => (int?)w.GetProperty("pid").GetInt32()));
        Assert.Equal(python.GetStatus().Workers.Select(w => w.Slot), pyWorkers.Select(w => w.GetProperty("slot").GetInt32()));
        Assert.Equal([0, 1], pyWorkers.Select(w => w.GetProperty("slot").GetInt32()).Order());
        Assert.Equal(1, pyPool.GetProperty("generation").GetInt32());
        Assert.All(pyWorkers, w => Assert.Equal(1, w.GetProperty("generation").GetInt32()));
        Assert.All(pyWorkers, w => Assert.True(w.GetProperty("rssBytes").GetInt64() > 1024 * 1024));
        var busy = Assert.Single(pyWorkers, w => w.GetProperty("state").GetString() == "Busy");
        var callJson = busy.GetProperty("call");
        Assert.Equal("dash.sleep", callJson.GetProperty("function").GetString());
        Assert.True(callJson.GetProperty("elapsedSeconds").GetDouble() >= 0);
        Assert.Equal(1, busy.GetProperty("uses").GetInt64());

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Fact]
    public async Task Snapshot_PoolStartedAfterMapping_IsListed_StoppedOneIsNot()
    {
        await using var server = await DashboardServer.StartAsync();
        Assert.Empty((await SnapshotAsync(server)).GetProperty("pools").EnumerateArray());

        await TestPools.StartCoreAsync(server.Registry, "later-a");
        await TestPools.StartCoreAsync(server.Registry, "later-b");
        Assert.Equal(["later-a", "later-b"], Names(await SnapshotAsync(server)));

        await server.Registry.StopPoolAsync("later-a");
        Assert.Equal(["later-b"], Names(await SnapshotAsync(server)));
    }

    [Fact]
    public async Task Snapshot_PythonPrint_InTheWorkersOutputTailAsText()
    {
        await using var server = await DashboardServer.StartAsync();
        var python = await TestPools.StartPythonAsync(server.Registry, "snap-print", size: 1);
        await python.CallAsync<int>("dash", "say", ["<b>hi</b> & \"bye\""]);
        await TestPools.WaitUntilAsync(() => python.GetStatus().Workers.Single().OutputTail.Count > 0, "the line is pumped");

        var raw = await server.Client.GetStringAsync(new Uri("api/snapshot", UriKind.Relative));

        // The JSON escapes markup characters, so the text cannot be mistaken for HTML even by a careless reader.
        Assert.DoesNotContain("<b>", raw, StringComparison.Ordinal);
        var worker = JsonDocument.Parse(raw).RootElement.GetProperty("pools")[0].GetProperty("workers")[0];
        Assert.Equal(["<b>hi</b> & \"bye\""], worker.GetProperty("outputTail").EnumerateArray().Select(l => l.GetString()));
    }

    [Fact]
    public async Task Snapshot_OtherPrefix_ServedThere()
    {
        await using var server = await DashboardServer.StartAsync(prefix: "/ops/pools");
        await TestPools.StartCoreAsync(server.Registry, "prefixed");

        using var response = await server.Client.GetAsync(new Uri("api/snapshot", UriKind.Relative));

        Assert.Equal("http://127.0.0.1:" + server.Root.Port + "/ops/pools/api/snapshot", response.RequestMessage!.RequestUri!.ToString());
        Assert.Equal(["prefixed"], Names(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement));
    }

    internal static async Task<JsonElement> SnapshotAsync(DashboardServer server)
    {
        using var response = await server.Client.GetAsync(new Uri("api/snapshot", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    internal static IEnumerable<string?> Names(JsonElement snapshot)
        => snapshot.GetProperty("pools").EnumerateArray().Select(p => p.GetProperty("name").GetString());

    internal static JsonElement Pool(JsonElement snapshot, string name)
        => snapshot.GetProperty("pools").EnumerateArray().Single(p => p.GetProperty("name").GetString() == name);

}
